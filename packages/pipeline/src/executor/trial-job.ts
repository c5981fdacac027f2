/**
 * One trial taken from the queue, run by the ordinary runner (runner.ts) in the worker's own
 * working directory, `<work-dir>/<sweep>/<trial>`, with the shared artifact store linked in
 * (store/step-sync.ts): steps computed anywhere are reused, a running step's checkpoints are kept
 * in the store, and a trial another worker started resumes from them. When it succeeds, its whole
 * run directory goes to the store (`runs/<sweep>/<index>`) for the sweep to collect.
 *
 * A step job (a foreach member of a `ct run --executor queue`, step-jobs.ts) runs the same way
 * with the runner's `only`: its upstream steps come from the store (the coordinator stored them),
 * and the step itself goes to the store under its content key, which must be the key the
 * coordinator sent: a step whose inputs differ here (a file the pipeline names by path that this
 * machine has in another version) would be a computation the coordinator never collects.
 *
 * This runs in a child process of `ct worker` (apps/cli/src/commands/worker.ts), so a crash stays
 * in its trial and the worker can report it; the child ends itself when its worker is gone.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, RuntimeError } from '@circuit-tuning/contracts';
import { writeFileAtomic } from '@circuit-tuning/runtime';
import { parseOverride } from '../overrides';
import { loadPipeline } from '../resolve';
import { type PipelineDisplay, type PipelineRunResult, runPipeline } from '../runner';
import type { BackendChoice } from '../spec';
import { builtinRegistry } from '../stages';
import { type ArtifactStore, putDir, runKey, storeIdentity } from '../store/artifact-store';
import { stepKey, stepSync } from '../store/step-sync';
import type { TrialJob } from './queue';

export interface TrialJobOptions {
  workDir: string;
  store: ArtifactStore;
  /** The worker's --backend, which wins over the pipeline's. */
  backend?: BackendChoice;
  /** Starts the compute backend the pipeline asks for (the CLI's startPipelineBackend). */
  startBackend(choice: BackendChoice, threads: number | undefined): Promise<{ name: string }>;
  versions(backend: { name: string }): Record<string, string>;
  display?: PipelineDisplay;
  signal?: AbortSignal;
  warn(message: string): void;
  info(message: string): void;
  /** How often a running step's state is checked for changes to store. */
  snapshotEveryMs?: number;
}

/** Where a job's trial runs on this worker. */
export const trialRunDir = (workDir: string, job: Pick<TrialJob, 'sweepId' | 'name'>) => join(workDir, job.sweepId, job.name);

/**
 * The pipeline file the trial loads: the job's path when this machine has the very same file
 * (a shared checkout, so files it names resolve as they did for the sweep), otherwise the job's
 * copy of its text written into the working directory.
 */
async function pipelineFile(job: TrialJob, workDir: string): Promise<string> {
  const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');
  if (existsSync(job.pipeline.path) && sha(readFileSync(job.pipeline.path)) === sha(job.pipeline.text)) return job.pipeline.path;
  const copy = join(workDir, job.sweepId, `${job.pipeline.path.split('/').pop() ?? 'pipeline.yaml'}`);
  await mkdir(join(workDir, job.sweepId), { recursive: true });
  await writeFileAtomic(copy, job.pipeline.text);
  return copy;
}

export interface TrialJobOutcome {
  result: PipelineRunResult;
  backend: string;
}

export async function runTrialJob(job: TrialJob, options: TrialJobOptions): Promise<TrialJobOutcome> {
  const ownStore = await storeIdentity(options.store);
  if (ownStore !== job.storeId) {
    throw new RuntimeError(`this worker's artifact store (${options.store.description}, id ${ownStore}) is not the one sweep ${job.sweepId} collects from (id ${job.storeId})`, {
      hint: 'give the worker the sweep\'s --store (the same shared directory, or none for the queue server\'s object store)',
    });
  }
  const file = await pipelineFile(job, options.workDir);
  const plan = await loadPipeline(file, { registry: builtinRegistry(), overrides: job.set.map(parseOverride), ...(options.backend === undefined ? {} : { backend: options.backend }) });
  if (job.step !== undefined && !plan.pipeline.steps.some((s) => s.id === job.step?.id)) {
    throw new ConfigError(`step job ${job.sweepId} ${job.name}: pipeline ${job.pipeline.path} has no step '${job.step.id}'`);
  }
  const info = await options.startBackend(plan.pipeline.backend, plan.pipeline.threads);
  const runDir = trialRunDir(options.workDir, job);
  // A trial's steps are listed under its own reference (store gc keeps what a kept sweep uses); a
  // step job's are under its coordinator's, which fetches the step and lists it.
  const sync = stepSync(options.store, {
    warn: options.warn,
    info: options.info,
    ...(job.step === undefined ? { owner: `${job.sweepId}/${job.index}` } : {}),
    ...(options.snapshotEveryMs === undefined ? {} : { snapshotEveryMs: options.snapshotEveryMs }),
  });
  let result: PipelineRunResult;
  try {
    result = await runPipeline(plan, {
      runDir,
      backend: info,
      versions: options.versions(info),
      sourceText: job.pipeline.text,
      stepStore: sync,
      ...(job.step === undefined ? {} : { only: [job.step.id] }),
      ...(options.display === undefined ? {} : { display: options.display }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } finally {
    await sync.flush();
  }
  if (result.status !== 'succeeded') return { result, backend: info.name };
  if (job.step === undefined) {
    await putDir(options.store, runKey(job.sweepId, job.index), runDir, { replace: true });
    await sync.reference(runKey(job.sweepId, job.index));
  }
  else {
    const computed = sync.contentKeyOf(job.step.id);
    if (computed !== job.step.contentKey) {
      throw new RuntimeError(`step '${job.step.id}' has content key ${computed ?? '(none)'} on this worker, not ${job.step.contentKey} as where it was queued: its inputs differ here`, {
        hint: 'a file the pipeline names by path differs between the machines; give the workers the same checkout',
      });
    }
    if (!(await options.store.has(stepKey(job.step.contentKey)))) throw new RuntimeError(`step '${job.step.id}' ran but is not in the store (${options.store.description})`);
  }
  return { result, backend: info.name };
}
