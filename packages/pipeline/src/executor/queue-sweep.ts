/**
 * The sweep's side of the queue executor: one job per trial on the queue (queue.ts), then a wait —
 * bounded by `timeoutMs`, with a progress line as states change — during which each trial that
 * finishes on some worker is collected: its run directory fetched from the artifact store into
 * the sweep directory (where `ct verify` and `ct view` read it as any other), and its metrics read
 * from there, with the host and backend it ran on.
 *
 * Unlike the local executor every trial is queued at once: steps the trials share are found in the
 * store by whichever worker needs them second, and two workers computing the same step at the same
 * moment leave one entry (store/artifact-store.ts).
 */
import { readFile, rm } from 'node:fs/promises';
import { RuntimeError } from '@circuit-tuning/contracts';
import { runDirState } from '../run-dir';
import { type ArtifactStore, getDir, runKey, storeIdentity } from '../store/artifact-store';
import { collectMetrics, type Trial, type TrialResult, trialSets } from '../sweep';
import { awaitJobs } from './await-jobs';
import type { Queue, TrialJob, TrialState, TrialStateName } from './queue';

export interface QueueSweepOptions {
  queue: Queue;
  store: ArtifactStore;
  sweepId: string;
  /** The pipeline file (its text travels in each job). */
  pipeline: string;
  set: readonly string[];
  /** How long to wait for every trial to end. */
  timeoutMs: number;
  /** How often the trial states are read. */
  pollMs?: number;
  onState?(trial: Trial, state: TrialState, index: number): void;
  onEnd?(result: TrialResult, index: number): void;
  /** Every `progressEveryMs`, the counts of trials by state. */
  onProgress?(counts: Record<string, number>): void;
  progressEveryMs?: number;
  signal?: AbortSignal;
}

const FINAL: readonly TrialStateName[] = ['succeeded', 'failed'];

export async function enqueueTrials(trials: readonly Trial[], options: Pick<QueueSweepOptions, 'queue' | 'store' | 'sweepId' | 'pipeline' | 'set'>): Promise<TrialJob[]> {
  const text = await readFile(options.pipeline, 'utf8');
  const storeId = await storeIdentity(options.store);
  const jobs: TrialJob[] = [];
  for (const [index, trial] of trials.entries()) {
    const job: TrialJob = {
      format: 'ct-trial-job/1',
      sweepId: options.sweepId,
      index,
      name: trial.name,
      pipeline: { path: options.pipeline, text },
      set: trialSets(options.set, trial),
      values: trial.values,
      storeId,
    };
    await options.queue.setState({ sweepId: options.sweepId, index, name: trial.name, state: 'queued', attempt: 0, updatedAt: new Date().toISOString() });
    await options.queue.enqueue(job);
    jobs.push(job);
  }
  return jobs;
}

export async function runTrialsOnQueue(trials: readonly Trial[], options: QueueSweepOptions): Promise<TrialResult[]> {
  const jobs = await enqueueTrials(trials, options);
  const trialOf = (job: TrialJob) => trials[job.index] as Trial;
  const results = await awaitJobs(jobs, {
    queue: options.queue,
    timeoutMs: options.timeoutMs,
    timeoutHint: `the trials stay queued: \`ct sweep --status --queue URL\` shows them (sweep ${options.sweepId}); is a \`ct worker\` running?`,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    ...(options.progressEveryMs === undefined ? {} : { progressEveryMs: options.progressEveryMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    finished: async (job, state) => (state === undefined || !FINAL.includes(state.state) ? undefined : collect(trialOf(job), job.index, state, options)),
    onState: (job, state) => options.onState?.(trialOf(job), state, job.index),
    onResult: (job, result) => options.onEnd?.(result, job.index),
    countAs: (result) => result.status,
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  return results.filter((r): r is TrialResult => r !== undefined);
}

/** A finished trial: its run directory from the store into the sweep directory, its metrics from there. */
async function collect(trial: Trial, index: number, state: TrialState, options: QueueSweepOptions): Promise<TrialResult> {
  let fetchError: string | undefined;
  if (state.state === 'succeeded') {
    try {
      const found = await getDir(options.store, runKey(options.sweepId, index), trial.runDir, {
        // Only a run directory (a trial collected before, the sweep rerun into the same --out) is replaced.
        replace: async (path) => {
          if ((await runDirState(path)) !== 'run') throw new RuntimeError(`${path} exists and is not a run directory; nothing in it is replaced`);
          await rm(path, { recursive: true, force: true });
        },
      });
      if (!found) fetchError = `its run directory is not in the store (${options.store.description})`;
    } catch (error) {
      fetchError = `its run directory could not be fetched: ${(error as Error).message}`;
    }
  }
  return {
    ...trial,
    status: fetchError === undefined ? state.state : 'failed',
    exitCode: null,
    durationMs: state.durationMs ?? 0,
    metrics: fetchError === undefined && state.state === 'succeeded' ? await collectMetrics(trial.runDir) : {},
    ...(state.host === undefined ? {} : { host: state.host }),
    ...(state.backend === undefined ? {} : { backend: state.backend }),
    attempts: state.attempt,
    ...(fetchError !== undefined ? { error: fetchError } : state.error === undefined ? {} : { error: state.error }),
  };
}
