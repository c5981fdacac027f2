/**
 * What a sweep (queue-sweep.ts) and a run that sends its foreach steps to the queue (step-jobs.ts)
 * both do once their jobs are queued: read each job's state (queue.ts's state bucket) until it is
 * over, say when a state changes, and turn a finished job into a result — bounded by a timeout,
 * with the counts by state every so often. One loop, so that the two kinds of job are waited for,
 * reported and timed out the same way.
 */
import { RuntimeError } from '@circuit-tuning/contracts';
import type { Queue, TrialJob, TrialState } from './queue';

export interface AwaitJobsOptions<R> {
  queue: Queue;
  /** How long to wait for every job to end. */
  timeoutMs: number;
  /** What the timeout's error suggests. */
  timeoutHint: string;
  /** How often the states are read (default 500 ms). */
  pollMs?: number;
  /** A job's result once it is over (its state final, or what it left in the store); undefined while it runs. */
  finished(job: TrialJob, state: TrialState | undefined): Promise<R | undefined>;
  onState?(job: TrialJob, state: TrialState): void;
  onResult?(job: TrialJob, result: R): void;
  /** How a result is counted in the progress line (default 'ended'). */
  countAs?(result: R): string;
  /** Every `progressEveryMs`, the counts of jobs by state. */
  onProgress?(counts: Record<string, number>): void;
  progressEveryMs?: number;
  signal?: AbortSignal;
}

/** Waits for `jobs` (already queued); the results in their order, undefined for a job not waited for to its end. */
export async function awaitJobs<R>(jobs: readonly TrialJob[], options: AwaitJobsOptions<R>): Promise<(R | undefined)[]> {
  const results: (R | undefined)[] = new Array(jobs.length).fill(undefined);
  const seen = new Map<number, string>();
  const started = Date.now();
  let lastProgress = Date.now();
  const pollMs = options.pollMs ?? 500;
  const pending = () => results.filter((r) => r === undefined).length;
  while (pending() > 0) {
    if (options.signal?.aborted) break;
    if (Date.now() - started > options.timeoutMs) {
      throw new RuntimeError(`waited ${Math.round(options.timeoutMs / 1000)} s and ${pending()} of ${jobs.length} jobs have not ended`, { hint: options.timeoutHint });
    }
    const states = new Map<number, TrialState>();
    for (const [position, job] of jobs.entries()) {
      if (results[position] !== undefined) continue;
      const state = await options.queue.state(job.sweepId, job.index);
      // A state left by another computation at the same place (a rerun queued a changed step) is not this job's.
      if (state !== undefined && (job.step === undefined || state.key === job.step.contentKey)) states.set(position, state);
    }
    for (const [position, job] of jobs.entries()) {
      if (results[position] !== undefined) continue;
      const state = states.get(position);
      if (state !== undefined) {
        const fingerprint = `${state.state}:${state.attempt}:${state.worker ?? ''}`;
        if (seen.get(position) !== fingerprint) {
          seen.set(position, fingerprint);
          options.onState?.(job, state);
        }
      }
      const result = await options.finished(job, state);
      if (result === undefined) continue;
      results[position] = result;
      options.onResult?.(job, result);
    }
    if (options.onProgress !== undefined && Date.now() - lastProgress >= (options.progressEveryMs ?? 10_000)) {
      lastProgress = Date.now();
      const counts: Record<string, number> = {};
      for (const position of jobs.keys()) {
        const result = results[position];
        const name = result !== undefined ? (options.countAs?.(result) ?? 'ended') : (states.get(position)?.state ?? 'queued');
        counts[name] = (counts[name] ?? 0) + 1;
      }
      options.onProgress(counts);
    }
    if (pending() > 0) await new Promise((r) => setTimeout(r, pollMs));
  }
  return results;
}
