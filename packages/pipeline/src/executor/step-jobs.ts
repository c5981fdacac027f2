/**
 * The queue executor's side of a single run (`ct run --executor queue`): the runner's dispatcher
 * (runner.ts's StepDispatcher) that sends the foreach members it is handed to the same queue and
 * workers as a sweep's trials (queue.ts, worker.ts), one job per step, and waits for them
 * (await-jobs.ts, the loop sweeps use). A job names its step and the step's content key; the
 * worker runs the ordinary runner with only that step (trial-job.ts), taking the upstream steps
 * from the artifact store, where this run's step store (store/step-sync.ts) put them, and leaving
 * the step there under `steps/<content key>`, from where the runner then fetches it.
 *
 * A killed coordinator is rerun with the same command: the jobs are named by the run (its
 * pipeline's name and a hash of this host and the run directory) and each step's position, and
 * carry the content key, so a step already in the store is not queued again, a job still queued
 * or running from the killed run is waited for, and only the rest is queued.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { CircuitTuningError, ConfigError } from '@circuit-tuning/contracts';
import type { DispatchedStep, DispatchOutcome, StepDispatcher } from '../runner';
import { type ArtifactStore, storeIdentity } from '../store/artifact-store';
import { stepKey } from '../store/step-sync';
import { awaitJobs } from './await-jobs';
import type { Queue, TrialJob, TrialState, TrialStateName } from './queue';

export interface QueueStepOptions {
  queue: Queue;
  store: ArtifactStore;
  /** How long to wait for one batch of steps. */
  timeoutMs: number;
  pollMs?: number;
  progressEveryMs?: number;
  /** A job's state changed (queued, running on which worker, retrying, ended). */
  onState?(step: string, state: TrialState): void;
  /** Said once per batch: which steps were queued, which were found done or still queued. */
  log?(message: string): void;
  onProgress?(counts: Record<string, number>): void;
}

const LIVE: readonly TrialStateName[] = ['queued', 'running', 'retrying'];

/** The id a run's step jobs go under: the same for every rerun of one run directory on one host. */
export function runJobsId(pipelineName: string, runDir: string): string {
  const base = pipelineName.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40) || 'run';
  return `${base}-${createHash('sha256').update(`${hostname()}\n${runDir}`).digest('hex').slice(0, 12)}`;
}

export function queueStepDispatcher(options: QueueStepOptions): StepDispatcher {
  return {
    async run(steps, context) {
      const { pipeline } = context;
      if (pipeline.source === undefined) throw new ConfigError(`pipeline '${pipeline.name}' has no file: its steps cannot be sent to workers`);
      const text = await readFile(pipeline.source.file, 'utf8');
      if (createHash('sha256').update(text).digest('hex') !== pipeline.source.sha256) {
        throw new ConfigError(`${pipeline.source.file} changed since this run loaded it; its steps are not sent to workers with another text`, { hint: 'run the command again' });
      }
      const runId = runJobsId(pipeline.name, context.runDir);
      const storeId = await storeIdentity(options.store);
      const outcomes = new Map<string, DispatchOutcome>();
      const jobs: TrialJob[] = [];
      const said = { stored: [] as string[], waited: [] as string[], queued: [] as string[] };
      for (const item of steps) {
        const previous = await options.queue.state(runId, item.index);
        const ours = previous?.key === item.contentKey ? previous : undefined;
        if (await options.store.has(stepKey(item.contentKey))) {
          // Computed by this run's job before (a killed coordinator's), or by anyone else: then the
          // runner takes it as a cached step, as a local run takes a step another run left.
          if (ours?.state === 'succeeded') outcomes.set(item.step.id, { status: 'succeeded', ...(ours.worker === undefined ? {} : { ranOn: ours.worker }) });
          said.stored.push(item.step.id);
          continue;
        }
        const job = stepJob(item, { runId, storeId, file: pipeline.source.file, text, set: pipeline.overrides });
        if (ours !== undefined && LIVE.includes(ours.state)) said.waited.push(item.step.id);
        else {
          await options.queue.setState({ sweepId: runId, index: item.index, name: item.step.id, key: item.contentKey, state: 'queued', attempt: 0, updatedAt: new Date().toISOString() });
          await options.queue.enqueue(job);
          said.queued.push(item.step.id);
        }
        jobs.push(job);
      }
      if (said.stored.length > 0) options.log?.(`in the store already: ${said.stored.join(', ')}`);
      if (said.waited.length > 0) options.log?.(`queued by an earlier run of ${context.runDir}, waited for: ${said.waited.join(', ')}`);
      if (said.queued.length > 0) options.log?.(`queued for the workers (jobs ${runId}): ${said.queued.join(', ')}`);
      const results = await awaitJobs(jobs, {
        queue: options.queue,
        timeoutMs: options.timeoutMs,
        timeoutHint: `the steps stay queued: \`ct sweep --status --queue URL --sweep ${runId}\` shows them; is a \`ct worker\` running? Rerun the same command to go on waiting`,
        ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
        ...(options.progressEveryMs === undefined ? {} : { progressEveryMs: options.progressEveryMs }),
        ...(context.signal === undefined ? {} : { signal: context.signal }),
        finished: async (job, state) => finished(job, state, options.store),
        onState: (job, state) => options.onState?.(job.name, state),
        countAs: (result) => result.status,
        ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      });
      for (const [position, job] of jobs.entries()) {
        const result = results[position];
        if (result !== undefined) outcomes.set(job.name, result);
      }
      return outcomes;
    },
  };
}

function stepJob(item: DispatchedStep, run: { runId: string; storeId: string; file: string; text: string; set: readonly string[] }): TrialJob {
  return {
    format: 'ct-trial-job/1',
    sweepId: run.runId,
    index: item.index,
    name: item.step.id,
    pipeline: { path: run.file, text: run.text },
    set: [...run.set],
    values: {},
    storeId: run.storeId,
    step: { id: item.step.id, contentKey: item.contentKey },
  };
}

/** A step job is over when its step is in the store, or its state (for this content key) says it failed. */
async function finished(job: TrialJob, state: TrialState | undefined, store: ArtifactStore): Promise<DispatchOutcome | undefined> {
  const key = job.step?.contentKey as string;
  if (state?.state === 'failed') {
    return {
      status: 'failed',
      error: new CircuitTuningError(state.errorKind ?? 'runtime', `step '${job.name}' failed on ${state.worker ?? 'a worker'} (delivery ${state.attempt}): ${state.error ?? 'no reason given'}`, {
        hint: state.errorKind === 'config' ? 'not retried: its config is wrong; fix it and run again' : 'run again to queue it again; the steps that finished are reused',
      }),
    };
  }
  if (state?.state === 'succeeded' || (await store.has(stepKey(key)))) return { status: 'succeeded', ...(state?.worker === undefined ? {} : { ranOn: state.worker }) };
  return undefined;
}
