/**
 * The executor seam: what runs a sweep's trials, and a run's foreach steps.
 *
 *   local   each trial a child process on this machine, `concurrency` at a time (sweep.ts's
 *           runTrials, unchanged); a run computes every step itself, one after another
 *   queue   each trial, or each foreach member of a run, a job on a NATS JetStream work queue
 *           (queue.ts), run by `ct worker` processes on any machines (worker.ts, trial-job.ts)
 *           that share an artifact store (store/); the sweep collects each trial from the store
 *           as it ends (queue-sweep.ts), the run each step (step-jobs.ts), both waiting in one
 *           loop (await-jobs.ts)
 *
 * Either gives the same results: the queue only changes where a trial or a step ran.
 */
import { ConfigError } from '@circuit-tuning/contracts';
import type { NatsConnection } from 'nats';
import type { ArtifactStore } from '../store/artifact-store';
import { openDirStore } from '../store/dir-store';
import { openNatsStore } from '../store/nats-store';
import type { StepDispatcher } from '../runner';
import { type StepSync, stepSync } from '../store/step-sync';
import { type RunTrialsOptions, runTrials, type Trial, type TrialResult } from '../sweep';
import { connectQueue, describeQueue } from './nats-connection';
import { openQueue, type QueueSettings, sweepIdFor, type TrialState } from './queue';
import { runTrialsOnQueue } from './queue-sweep';
import { queueStepDispatcher } from './step-jobs';

export const EXECUTORS = ['local', 'queue'] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

export function executorChoice(value: unknown): ExecutorName {
  if (value === undefined) return 'local';
  if (typeof value === 'string' && (EXECUTORS as readonly string[]).includes(value)) return value as ExecutorName;
  throw new ConfigError(`--executor '${String(value)}': unknown executor`, { hint: `valid: ${EXECUTORS.join(', ')}` });
}

export interface TrialHooks {
  onStart?(trial: Trial, index: number, where?: string): void;
  onEnd?(result: TrialResult, index: number): void;
  /** A trial failed on some worker and goes back on the queue (queue executor). */
  onRetry?(trial: Trial, index: number, where: string, error: string): void;
  onProgress?(counts: Record<string, number>): void;
}

/** What a run (`ct run --executor queue`) is told about the steps it sent away. */
export interface StepHooks {
  /** Who uses the steps, for the store's references (step-jobs.ts's runJobsId of the run). */
  owner?: string;
  onState?(step: string, state: TrialState): void;
  log?(message: string): void;
  onProgress?(counts: Record<string, number>): void;
}

export interface TrialExecutor {
  readonly name: ExecutorName;
  /** Where trials (or steps) run, for the first line. */
  readonly description: string;
  /** A sweep's trials, each a whole pipeline in its own run directory. */
  run(trials: readonly Trial[], hooks: TrialHooks): Promise<TrialResult[]>;
  /**
   * What a single run hands its foreach members to (runner.ts's `dispatch`) and the step store it
   * then takes them from (its `stepStore`); undefined where the runner computes every step itself.
   */
  steps(hooks: StepHooks): { dispatch: StepDispatcher; stepStore: StepSync } | undefined;
  close(): Promise<void>;
}

export function localExecutor(options: Omit<RunTrialsOptions, 'onStart' | 'onEnd'>): TrialExecutor {
  return {
    name: 'local',
    description: `this machine, ${options.concurrency} at a time`,
    run: (trials, hooks) =>
      runTrials(trials, {
        ...options,
        ...(hooks.onStart === undefined ? {} : { onStart: hooks.onStart }),
        ...(hooks.onEnd === undefined ? {} : { onEnd: hooks.onEnd }),
      }),
    steps: () => undefined,
    async close() {},
  };
}

/**
 * The artifact store a queue's workers share: a directory (`--store DIR`, CT_STORE) every machine
 * mounts, or by default the object store in the queue's own server.
 */
export async function openSharedStore(store: string | undefined, connection: NatsConnection, queueUrl: string): Promise<ArtifactStore> {
  if (store === undefined || store === '' || store === 'nats') return openNatsStore(connection, describeQueue(queueUrl));
  return openDirStore(store);
}

export interface QueueExecutorOptions {
  queueUrl: string;
  store?: string;
  settings: QueueSettings;
  /** The sweep's name (the start of its id), its pipeline file and overrides; a single run's are in its plan. */
  sweepName: string;
  pipeline: string;
  set: readonly string[];
  /** How long a sweep waits for its trials, or a run for one batch of steps. */
  timeoutMs: number;
  progressEveryMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
  warn(message: string): void;
}

export async function queueExecutor(options: QueueExecutorOptions): Promise<TrialExecutor & { sweepId: string }> {
  const connection = await connectQueue(options.queueUrl, { name: 'circuit-tuning sweep' });
  try {
    const queue = await openQueue(connection, options.settings, options.warn);
    const store = await openSharedStore(options.store, connection, options.queueUrl);
    const sweepId = sweepIdFor(options.sweepName);
    return {
      name: 'queue',
      sweepId,
      description: `the queue at ${describeQueue(options.queueUrl)} (sweep ${sweepId}; artifacts in ${store.description})`,
      run: (trials, hooks) =>
        runTrialsOnQueue(trials, {
          queue,
          store,
          sweepId,
          pipeline: options.pipeline,
          set: options.set,
          timeoutMs: options.timeoutMs,
          ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
          ...(options.progressEveryMs === undefined ? {} : { progressEveryMs: options.progressEveryMs }),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          onState: (trial, state, index) => {
            const where = state.worker ?? state.host ?? 'a worker';
            if (state.state === 'running') hooks.onStart?.(trial, index, `on ${where}${state.attempt > 1 ? ` (delivery ${state.attempt})` : ''}`);
            if (state.state === 'retrying') hooks.onRetry?.(trial, index, where, state.error ?? 'failed');
          },
          ...(hooks.onEnd === undefined ? {} : { onEnd: hooks.onEnd }),
          ...(hooks.onProgress === undefined ? {} : { onProgress: hooks.onProgress }),
        }),
      steps: (hooks) => ({
        dispatch: queueStepDispatcher({
          queue,
          store,
          timeoutMs: options.timeoutMs,
          ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
          ...(options.progressEveryMs === undefined ? {} : { progressEveryMs: options.progressEveryMs }),
          ...(hooks.onState === undefined ? {} : { onState: hooks.onState }),
          ...(hooks.log === undefined ? {} : { log: hooks.log }),
          ...(hooks.onProgress === undefined ? {} : { onProgress: hooks.onProgress }),
        }),
        // The run's own steps go to the store too: the workers take its upstream steps from there.
        stepStore: stepSync(store, { warn: options.warn, ...(hooks.log === undefined ? {} : { info: hooks.log }), ...(hooks.owner === undefined ? {} : { owner: hooks.owner }) }),
      }),
      async close() {
        await store.close();
        await connection.drain();
      },
    };
  } catch (error) {
    await connection.close();
    throw error;
  }
}
