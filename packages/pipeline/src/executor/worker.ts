/**
 * `ct worker`: takes trials from the queue (queue.ts) and runs each in a child process (the
 * command the caller gives, which calls trial-job.ts), `concurrency` at a time. While a trial
 * runs, the job is kept alive with in-progress acknowledgements, so only a worker that died (or
 * hung without a heartbeat) has its job delivered again after the ack wait. Outcomes:
 *
 *   exit 0                       acknowledged: the trial succeeded and its run is in the store
 *   exit 3 (a ConfigError)       terminated: the trial's config is wrong, a retry fails the same way
 *   anything else                negatively acknowledged with a growing delay (1, 2, 4 ... s, at
 *                                most 60), or terminated at the last allowed delivery
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type ErrorKind, exitCodeFor } from '@circuit-tuning/contracts';
import { writeJsonAtomic } from '@circuit-tuning/runtime';
import { parseJob, type Queue, type TrialJob, type TrialState } from './queue';

export interface WorkerOptions {
  queue: Queue;
  workDir: string;
  concurrency: number;
  /** node's arguments that run one job: the job file's path is appended. */
  jobCommand(jobFile: string): readonly string[];
  /** The child's environment (the queue's address goes here, never into the job file). */
  env: NodeJS.ProcessEnv;
  log(message: string): void;
  signal: AbortSignal;
  /** Stop after this many jobs (tests, and a machine lent for a while); unbounded by default. */
  maxJobs?: number;
}

/** What the child leaves beside the job file: how the trial ended and on what. */
export interface JobOutcomeFile {
  status: string;
  backend?: string;
  error?: string;
  /** The error's kind (contracts' ErrorKind), which the coordinator of a step job fails with. */
  kind?: ErrorKind;
}

export const workerName = () => `${hostname()}:${process.pid}`;

export async function runWorker(options: WorkerOptions): Promise<{ taken: number }> {
  const { queue } = options;
  let taken = 0;
  const active = new Set<Promise<void>>();
  while (!options.signal.aborted && (options.maxJobs === undefined || taken < options.maxJobs)) {
    if (active.size >= options.concurrency) {
      await Promise.race(active);
      continue;
    }
    let message: Awaited<ReturnType<Queue['take']>>;
    try {
      message = await queue.take(2000);
    } catch (error) {
      options.log(`cannot take a job (${(error as Error).message}); trying again`);
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    if (message === null) continue;
    taken += 1;
    const job = (() => {
      try {
        return parseJob(message);
      } catch (error) {
        options.log(`${(error as Error).message}: dropped`);
        message.term();
        return undefined;
      }
    })();
    if (job === undefined) continue;
    const running = handle(job, message, options).finally(() => active.delete(running));
    active.add(running);
  }
  await Promise.all(active);
  return { taken };
}

async function handle(job: TrialJob, message: NonNullable<Awaited<ReturnType<Queue['take']>>>, options: WorkerOptions): Promise<void> {
  const { queue } = options;
  // Three progress signals per ack wait, as the queue has it now (a sweep may have changed it).
  const settings = await queue.refresh().catch(() => queue.settings);
  const heartbeatMs = Math.max(250, Math.floor(settings.ackWaitMs / 3));
  const attempt = message.info.deliveryCount;
  const base = { sweepId: job.sweepId, index: job.index, name: job.name, attempt, host: hostname(), worker: workerName(), ...(job.step === undefined ? {} : { key: job.step.contentKey }) };
  const state = (s: Omit<TrialState, keyof typeof base | 'updatedAt'>) => queue.setState({ ...base, ...s, updatedAt: new Date().toISOString() }).catch(() => undefined);
  await state({ state: 'running' });
  options.log(`${job.sweepId} ${job.name}: started (delivery ${attempt} of at most ${settings.maxDeliver})`);
  const jobDir = join(options.workDir, job.sweepId, '.jobs');
  await mkdir(jobDir, { recursive: true });
  const jobFile = join(jobDir, `${job.index}.json`);
  const outcomeFile = join(jobDir, `${job.index}.outcome.json`);
  await writeJsonAtomic(jobFile, job);
  const heartbeat = setInterval(() => message.working(), heartbeatMs);
  const started = performance.now();
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [...options.jobCommand(jobFile), '--outcome', outcomeFile], { stdio: ['ignore', 'ignore', 'pipe'], env: options.env });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err = (err + c).slice(-4000);
    });
    const onAbort = () => child.kill('SIGTERM');
    options.signal.addEventListener('abort', onAbort, { once: true });
    child.on('close', (exit) => {
      options.signal.removeEventListener('abort', onAbort);
      resolve({ code: exit, stderr: err });
    });
  });
  clearInterval(heartbeat);
  const durationMs = Math.round(performance.now() - started);
  const outcome = await readFile(outcomeFile, 'utf8')
    .then((t) => JSON.parse(t) as JobOutcomeFile)
    .catch(() => undefined);
  const error = outcome?.error ?? stderr.trim().split('\n').filter((l) => l.startsWith('error:')).pop() ?? stderr.trim().split('\n').pop() ?? `exit ${code}`;
  const backend = outcome?.backend === undefined ? {} : { backend: outcome.backend };
  const errorKind: ErrorKind = code === exitCodeFor.config ? 'config' : (outcome?.kind ?? 'runtime');
  if (code === 0) {
    await state({ state: 'succeeded', durationMs, ...backend });
    await message.ackAck().catch(() => message.ack());
    options.log(`${job.sweepId} ${job.name}: succeeded in ${(durationMs / 1000).toFixed(1)} s`);
  } else if (code === exitCodeFor.config) {
    await state({ state: 'failed', durationMs, error, errorKind, ...backend });
    message.term('the trial failed in its config; a retry would fail the same way');
    options.log(`${job.sweepId} ${job.name}: failed in its config, not retried: ${error}`);
  } else if (attempt >= settings.maxDeliver) {
    await state({ state: 'failed', durationMs, error, errorKind, ...backend });
    message.term(`failed on its last allowed delivery (${attempt})`);
    options.log(`${job.sweepId} ${job.name}: failed on its last delivery (${attempt}): ${error}`);
  } else {
    const delayMs = Math.min(60_000, 1000 * 2 ** (attempt - 1));
    await state({ state: 'retrying', durationMs, error, errorKind, ...backend });
    message.nak(delayMs);
    options.log(`${job.sweepId} ${job.name}: failed (exit ${code}), retried in ${delayMs / 1000} s: ${error}`);
  }
}
