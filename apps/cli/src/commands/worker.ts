import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readFile } from 'node:fs/promises';
import { CircuitTuningError, ConfigError, exitCodeFor } from '@circuit-tuning/contracts';
import { writeJsonAtomic } from '@circuit-tuning/runtime';
import {
  connectQueue,
  createDisplay,
  describeQueue,
  type JobOutcomeFile,
  openQueue,
  openSharedStore,
  queueUrl,
  runTrialJob,
  runWorker,
  type TrialJob,
} from '@circuit-tuning/pipeline';
import type { Command } from '../command';
import { COMMAND_INFO } from './catalog';
import { appVersions, backendChoice, cancelOnSignals, EXIT_CANCELLED, positiveInt, startPipelineBackend, userPath } from '../cli-support';

const require = createRequire(import.meta.url);
/** Each job runs in a child process of this command line (`worker --run-job FILE`). */
const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));

/** Takes sweep trials from a queue and runs them; see `circuit-tuning worker --help`. */
export const workerCommand: Command = {
  ...COMMAND_INFO['worker'],
  async run({ values }) {
    const url = queueUrl(values.queue as string | undefined);
    const workDir = userPath((values['work-dir'] as string | undefined) ?? join('runs', 'worker'));
    const storeOption = (values.store as string | undefined) ?? process.env.CT_STORE;
    const store = storeOption === undefined || storeOption === 'nats' ? storeOption : userPath(storeOption);
    const backend = backendChoice(values.backend);
    if (values['run-job'] !== undefined) return runOneJob(String(values['run-job']), values.outcome as string | undefined, { url, workDir, store, backend, threads: positiveInt(values.threads, '--threads') });
    const concurrency = positiveInt(values.concurrency, '--concurrency') ?? 1;
    const maxJobs = positiveInt(values['max-jobs'], '--max-jobs');
    const connection = await connectQueue(url, { name: `circuit-tuning worker ${hostname()}` });
    const cancel = cancelOnSignals();
    try {
      const queue = await openQueue(connection);
      process.stderr.write(
        `worker ${hostname()}:${process.pid}: taking trials from ${describeQueue(url)}, ${concurrency} at a time, in ${workDir} (ack wait ${queue.settings.ackWaitMs / 1000} s, ${queue.settings.maxDeliver} deliveries)\n`,
      );
      // The child gets the address in its environment: never in a file, never in its argv.
      const env = { ...process.env, CT_QUEUE_URL: url };
      const { taken } = await runWorker({
        queue,
        workDir,
        concurrency,
        env,
        signal: cancel.signal,
        ...(maxJobs === undefined ? {} : { maxJobs }),
        // node itself runs the job (tsx as a loader, not tsx's CLI, which would put a process between):
        // the job's watchdog must see its parent die.
        jobCommand: (jobFile) => [
          '--import',
          pathToFileURL(require.resolve('tsx')).href,
          MAIN,
          'worker',
          '--run-job',
          jobFile,
          '--work-dir',
          workDir,
          ...(store === undefined ? [] : ['--store', store]),
          ...(backend === undefined ? [] : ['--backend', backend]),
          ...(values.threads === undefined ? [] : ['--threads', String(values.threads)]),
        ],
        log: (message) => process.stderr.write(`${new Date().toISOString()} ${message}\n`),
      });
      process.stderr.write(`worker: stopped after ${taken} job(s)\n`);
    } finally {
      cancel.dispose();
      await connection.drain().catch(() => undefined);
    }
    return cancel.signal.aborted ? EXIT_CANCELLED : 0;
  },
};

/**
 * One job, in the worker's child process: runs the trial (the pipeline package's runTrialJob) and
 * leaves its outcome beside the job file. It ends itself when its worker is gone (killed with
 * SIGKILL, which it cannot pass on), so no orphan keeps writing after the job went to another.
 */
async function runOneJob(
  jobFile: string,
  outcomeFile: string | undefined,
  options: { url: string; workDir: string; store: string | undefined; backend: ReturnType<typeof backendChoice>; threads: number | undefined },
): Promise<number> {
  const parent = process.ppid;
  const watchdog = setInterval(() => {
    if (process.ppid !== parent) process.exit(137);
  }, 250);
  watchdog.unref();
  const job = JSON.parse(await readFile(jobFile, 'utf8')) as TrialJob;
  const connection = await connectQueue(options.url, { name: `circuit-tuning trial ${job.name}` });
  const cancel = cancelOnSignals();
  const outcome = async (value: JobOutcomeFile) => {
    if (outcomeFile !== undefined) await writeJsonAtomic(outcomeFile, value);
  };
  try {
    const store = await openSharedStore(options.store, connection, options.url);
    const { result, backend } = await runTrialJob(job, {
      workDir: options.workDir,
      store,
      ...(options.backend === undefined ? {} : { backend: options.backend }),
      startBackend: (choice, threads) => startPipelineBackend(choice, options.threads ?? threads),
      versions: (info) => appVersions(info as Parameters<typeof appVersions>[0]),
      display: createDisplay({ quiet: true, verbose: false }),
      signal: cancel.signal,
      warn: (message) => process.stderr.write(`warning: ${message}\n`),
      info: (message) => process.stderr.write(`${message}\n`),
    });
    const error = result.error;
    await outcome({
      status: result.status,
      backend,
      ...(error === undefined ? {} : { error: error instanceof Error ? error.message : String(error) }),
      ...(error instanceof CircuitTuningError ? { kind: error.kind } : {}),
    });
    if (result.status === 'succeeded') return 0;
    if (result.status === 'aborted') return EXIT_CANCELLED;
    if (error instanceof CircuitTuningError) {
      process.stderr.write(`error: ${error.message}\n`);
      return exitCodeFor[error.kind];
    }
    process.stderr.write(`internal error: ${(error as Error | undefined)?.stack ?? String(error)}\n`);
    return 1;
  } catch (error) {
    // Loading the pipeline failed (a ConfigError: exit 3, not retried), or the store did, or a
    // step job's step is not the one it was sent for.
    await outcome({ status: 'failed', error: (error as Error).message, ...(error instanceof CircuitTuningError ? { kind: error.kind } : {}) }).catch(() => undefined);
    if (error instanceof ConfigError) {
      process.stderr.write(`error: ${error.message}\n`);
      return exitCodeFor.config;
    }
    throw error;
  } finally {
    cancel.dispose();
    await connection.drain().catch(() => undefined);
  }
}
