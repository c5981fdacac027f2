/**
 * Runs a resolved pipeline in a run directory:
 *
 *   <runDir>/pipeline.yaml           the file as written (when there is one)
 *   <runDir>/pipeline.resolved.json  the resolved pipeline (what `verify` reruns)
 *   <runDir>/run.json                the status of every step, rewritten atomically as it changes
 *   <runDir>/log.jsonl               every event of every step, with its step id
 *   <runDir>/<step>/                 each step's outputs, manifest.json and log.jsonl (runStage)
 *
 * Each step runs through runStage, which reuses a succeeded run with the same stage version,
 * config, seed and input bytes; so rerunning a pipeline that was killed skips what finished,
 * and a stage that checkpoints (training) resumes inside itself. `force` reruns.
 *
 * Before anything is written the paths are checked (run-dir.ts): the run directory is one this
 * tool made (or the caller allows another), every step directory stays inside it, and none was
 * made by someone else. Then the run is locked (`.pipeline/lock`), and what a killed run left
 * behind (its lock, temp files) is removed and said.
 *
 * With a dispatcher (`dispatch`, executor/step-jobs.ts: `ct run --executor queue`) the members of
 * foreach groups are computed elsewhere: when the runner reaches one, every foreach member whose
 * upstream steps have finished is handed over at once, by its content key, and the runner waits;
 * then each is taken from the step store as any cached step, so the run directory ends up as a
 * local run's. The other steps run here.
 */
import { appendFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type CircuitTuningError, ConfigError, type StageManifest } from '@circuit-tuning/contracts';
import {
  acquireLock,
  type AnyStageDefinition,
  type HeldLock,
  removeStaleTemps,
  runStage,
  STAGE_LOCK_FILE,
  type StageEvent,
  writeFileAtomic,
  writeJsonAtomic,
  indexStep,
  writeRunIndex,
} from '@circuit-tuning/runtime';
import { assertInsideRun, checkRunDir, PIPELINE_COPY, RUN_LOCK_FILE, RUN_LOG, RUN_STATUS_FILE, stepDir, INDEX_DIR, indexPath } from './run-dir';
import { type PipelinePlan, RESOLVED_FILE, type ResolvedPipeline, type ResolvedStep } from './resolve';
import { clearStaleState, ownStepMatches, reuseFromOtherRun, stepContentKey } from './step-cache';

export { PIPELINE_COPY, RUN_LOG, RUN_STATUS_FILE } from './run-dir';

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'cached' | 'failed' | 'skipped';

export interface StepResult {
  id: string;
  stage: string;
  status: StepStatus;
  manifest?: StageManifest;
  /** Absolute paths of the outputs by port. */
  outputs: Record<string, string>;
  startedAt?: string;
  durationMs?: number;
  /** Where a reused run came from, when it was copied from another run directory. */
  reusedFrom?: string;
  /** Which worker computed the step, when a dispatcher sent it away (a queue job). */
  ranOn?: string;
  error?: { kind: string; message: string; hint?: string };
}

export interface PipelineRunResult {
  runDir: string;
  status: 'succeeded' | 'failed' | 'aborted';
  steps: StepResult[];
  error?: unknown;
}

/** How a run is shown; every method must not throw (the runner guards anyway). */
export interface PipelineDisplay {
  start(pipeline: ResolvedPipeline, runDir: string): void;
  stepStart(step: ResolvedStep, index: number): void;
  event(step: ResolvedStep, event: StageEvent): void;
  stepEnd(step: ResolvedStep, result: StepResult, index: number): void;
  finish(result: PipelineRunResult): void;
  /** Something the user should know that belongs to no step (a stale lock or temp files removed). */
  warn(message: string): void;
}

export interface PipelineRunOptions {
  runDir: string;
  /** true reruns every step; a list reruns those steps (their downstream reruns when their outputs change). */
  force?: boolean | readonly string[];
  /** Run only these steps and the steps they need. */
  only?: readonly string[];
  signal?: AbortSignal;
  /** What computes, recorded in every manifest (the runtime's backendInfo()). */
  backend?: Readonly<{ name: string }>;
  /** Versions recorded in every manifest besides node's and the runtime's. */
  versions?: Readonly<Record<string, string>>;
  display?: PipelineDisplay;
  /** Other run directories whose finished steps may be copied when they match exactly (sweeps). */
  reuseFrom?: readonly string[];
  /** Text of the pipeline file, copied into the run directory. */
  sourceText?: string;
  /** Accept a run directory this tool did not make; none of its files is overwritten or deleted. */
  allowExistingDir?: boolean;
  /** A store of steps shared between machines (store/step-sync.ts), consulted before each step and given each step that ends. */
  stepStore?: StepStoreHook;
  /** Computes foreach members elsewhere, leaving them in `stepStore` (which it needs). */
  dispatch?: StepDispatcher;
}

/** A step handed to a dispatcher: ready to run (its upstream steps finished), named by its content key. */
export interface DispatchedStep {
  step: ResolvedStep;
  /** Its position in the pipeline's steps. */
  index: number;
  /** step-cache.ts's stepContentKey: the key the step store holds it under once computed. */
  contentKey: string;
}

export type DispatchOutcome = { status: 'succeeded'; ranOn?: string } | { status: 'failed'; error: CircuitTuningError };

/**
 * Runs steps somewhere else (executor/step-jobs.ts) and leaves the finished ones in the step store.
 * A step it has no outcome for (it found the step computed already) runs as any other: the step
 * store's copy makes it a cached step.
 */
export interface StepDispatcher {
  run(steps: readonly DispatchedStep[], context: { pipeline: ResolvedPipeline; runDir: string; signal?: AbortSignal }): Promise<ReadonlyMap<string, DispatchOutcome>>;
}

/** What the runner tells a shared step store; see store/step-sync.ts. */
export interface StepStoreHook {
  /** Before a step runs: may fill its directory with a finished run or resumable state; says where from. */
  before(context: StepStoreContext): Promise<string | undefined>;
  /** After it ran (or was reused), or failed. */
  after(context: StepStoreContext, outcome: { manifest: StageManifest; cached: boolean } | { error: unknown }): Promise<void>;
}

export interface StepStoreContext {
  definition: AnyStageDefinition;
  step: ResolvedStep;
  inputs: Record<string, string>;
  runDir: string;
  stageDir: string;
}

export async function runPipeline(plan: PipelinePlan, options: PipelineRunOptions): Promise<PipelineRunResult> {
  const { pipeline } = plan;
  if (options.dispatch !== undefined && options.stepStore === undefined) throw new ConfigError('a run that dispatches steps needs a step store to collect them from');
  const runDir = resolve(options.runDir);
  await checkRunDir(
    runDir,
    pipeline.steps.map((s) => s.id),
    { allowExistingDir: options.allowExistingDir === true },
  );
  await mkdir(join(runDir, INDEX_DIR), { recursive: true });
  const lock = await acquireLock(join(runDir, INDEX_DIR, RUN_LOCK_FILE), `ct run ${pipeline.name}`);
  const display = guard(options.display);
  const results = new Map<string, StepResult>(pipeline.steps.map((s) => [s.id, { id: s.id, stage: s.stage.id, status: 'pending', outputs: {} }]));
  const startedAt = new Date().toISOString();
  const status = (state: PipelineRunResult['status'] | 'running') =>
    writeJsonAtomic(join(runDir, RUN_STATUS_FILE), {
      pipeline: pipeline.name,
      status: state,
      startedAt,
      ...(state === 'running' ? {} : { finishedAt: new Date().toISOString() }),
      ...(options.backend === undefined ? {} : { backend: options.backend }),
      steps: [...results.values()].map(({ manifest: _manifest, outputs: _outputs, ...rest }) => rest),
    });
  try {
    if (options.sourceText !== undefined) await writeFileAtomic(join(runDir, PIPELINE_COPY), options.sourceText);
    await writeJsonAtomic(join(runDir, RESOLVED_FILE), pipeline);
    const needed = options.only === undefined ? undefined : closure(pipeline, options.only);
    display.start(pipeline, runDir);
    await cleanUpAfterKill(runDir, lock, display);
    await status('running');
    const runLog = join(runDir, RUN_LOG);
    let failure: unknown;
    const forced = (step: ResolvedStep) => options.force === true || (Array.isArray(options.force) && options.force.includes(step.id));
    const dispatched = new Map<string, DispatchOutcome | 'here'>();
    for (const [index, step] of pipeline.steps.entries()) {
      const result = results.get(step.id) as StepResult;
      if (failure !== undefined || (needed !== undefined && !needed.has(step.id))) {
        result.status = 'skipped';
        continue;
      }
      const definition = plan.definitions.get(step.id);
      if (definition === undefined) throw new ConfigError(`step '${step.id}' has no stage definition`);
      result.status = 'running';
      result.startedAt = new Date().toISOString();
      display.stepStart(step, index);
      await status('running');
      appendLog(runLog, { type: 'step', step: step.id, stage: step.stage.id, status: 'running', time: result.startedAt });
      const clock = performance.now();
      let storeContext: StepStoreContext | undefined;
      try {
        if (options.dispatch !== undefined && step.group !== undefined && !forced(step) && !dispatched.has(step.id)) {
          await dispatchReady(plan, index, results, needed, forced, dispatched, { runDir, dispatch: options.dispatch, ...(options.signal === undefined ? {} : { signal: options.signal }) });
        }
        const remote = dispatched.get(step.id);
        if (remote !== undefined && remote !== 'here' && remote.status === 'failed') throw remote.error;
        const inputs = await stepInputs(step, results, pipeline, runDir);
        const force = forced(step);
        await clearStaleState(definition, step, inputs, runDir, force);
        if (!force && options.reuseFrom !== undefined) {
          const from = await reuseFromOtherRun(definition, step, inputs, runDir, options.reuseFrom);
          if (from !== undefined) result.reusedFrom = from;
        }
        storeContext = { definition, step, inputs, runDir, stageDir: stepDir(runDir, step.id) };
        if (!force && options.stepStore !== undefined && result.reusedFrom === undefined) {
          const from = await options.stepStore.before(storeContext);
          if (from !== undefined) result.reusedFrom = from;
        }
        const run = await runStage(definition, {
          stageDir: stepDir(runDir, step.id),
          runDir,
          inputs,
          config: step.config,
          seed: step.seed,
          ...(options.backend === undefined ? {} : { backend: options.backend }),
          versions: { ...options.versions, ...(step.stage.source === 'module' ? { [`module:${step.stage.module}`]: step.stage.sha256 } : {}) },
          force,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          reporter: (event) => {
            display.event(step, event);
            appendLog(runLog, { step: step.id, ...event });
          },
        });
        result.status = run.cached ? 'cached' : 'succeeded';
        if (remote !== undefined && remote !== 'here' && run.cached) {
          // Computed for this run by a worker, then fetched: what a local run would have computed here.
          result.status = 'succeeded';
          delete result.reusedFrom;
          if (remote.ranOn !== undefined) result.ranOn = remote.ranOn;
        }
        result.manifest = run.manifest;
        await options.stepStore?.after(storeContext, { manifest: run.manifest, cached: run.cached });
        result.outputs = Object.fromEntries(Object.entries(run.outputs).filter((e): e is [string, string] => e[1] !== undefined));
      } catch (error) {
        if (storeContext !== undefined) await options.stepStore?.after(storeContext, { error });
        failure = error;
        result.status = 'failed';
        result.error = describe(error, options.signal);
      }
      result.durationMs = Math.round(performance.now() - clock);
      appendLog(runLog, { type: 'step', step: step.id, stage: step.stage.id, status: result.status, durationMs: result.durationMs, time: new Date().toISOString() });
      display.stepEnd(step, result, index);
      await status('running');
    }
    const outcome: PipelineRunResult['status'] = failure === undefined ? 'succeeded' : options.signal?.aborted ? 'aborted' : 'failed';
    const result: PipelineRunResult = { runDir, status: outcome, steps: [...results.values()], ...(failure === undefined ? {} : { error: failure }) };
    await status(outcome);
    display.finish(result);
    return result;
  } finally {
    await lock.release();
  }
}

/**
 * Hands every foreach member that is ready — needed, not forced, its upstream steps finished, not
 * finished in this run directory already — to the dispatcher in one batch, and records each
 * outcome; members it did not take are marked to run here.
 */
async function dispatchReady(
  plan: PipelinePlan,
  from: number,
  results: ReadonlyMap<string, StepResult>,
  needed: ReadonlySet<string> | undefined,
  forced: (step: ResolvedStep) => boolean,
  dispatched: Map<string, DispatchOutcome | 'here'>,
  options: { runDir: string; dispatch: StepDispatcher; signal?: AbortSignal },
): Promise<void> {
  const { pipeline } = plan;
  const done = (id: string) => ['succeeded', 'cached'].includes(results.get(id)?.status ?? '');
  const batch: DispatchedStep[] = [];
  for (const [index, step] of pipeline.steps.entries()) {
    if (index < from || step.group === undefined || dispatched.has(step.id) || forced(step)) continue;
    if (needed !== undefined && !needed.has(step.id)) continue;
    if (!step.dependsOn.every(done)) continue;
    const definition = plan.definitions.get(step.id);
    if (definition === undefined) continue;
    const inputs = await stepInputs(step, results, pipeline, options.runDir);
    if (await ownStepMatches(definition, step, inputs, options.runDir)) {
      dispatched.set(step.id, 'here');
      continue;
    }
    batch.push({ step, index, contentKey: await stepContentKey(definition, step, inputs, options.runDir) });
  }
  if (batch.length === 0) return;
  const outcomes = await options.dispatch.run(batch, { pipeline, runDir: options.runDir, ...(options.signal === undefined ? {} : { signal: options.signal }) });
  for (const { step } of batch) dispatched.set(step.id, outcomes.get(step.id) ?? 'here');
}

/** Absolute input paths of a step; collected steps get a run index written for them. */
async function stepInputs(step: ResolvedStep, results: ReadonlyMap<string, StepResult>, pipeline: ResolvedPipeline, runDir: string): Promise<Record<string, string>> {
  const inputs: Record<string, string> = {};
  for (const [port, input] of Object.entries(step.inputs)) {
    if ('path' in input) inputs[port] = input.path;
    else if ('step' in input) {
      const path = results.get(input.step)?.outputs[input.port];
      if (path === undefined) {
        throw new ConfigError(`step '${step.id}': input '${port}' is '${input.step}.${input.port}', which that step did not write`, {
          hint: `'${input.port}' is an optional output of '${input.step}'; enable it in that step's config or wire another input`,
        });
      }
      inputs[port] = path;
    } else {
      const collected = input.collect.map((id) => {
        const manifest = results.get(id)?.manifest;
        const spec = pipeline.steps.find((s) => s.id === id);
        if (manifest === undefined || spec === undefined) throw new ConfigError(`step '${step.id}': collected step '${id}' has not run`);
        return indexStep(id, manifest, { group: spec.group, item: spec.item });
      });
      const path = assertInsideRun(runDir, indexPath(runDir, step.id, port), `the run index of input '${port}'`);
      await writeRunIndex(path, { pipeline: pipeline.name, seed: pipeline.seed, steps: collected });
      inputs[port] = path;
    }
  }
  return inputs;
}

/** The steps `only` names and every step they depend on. */
function closure(pipeline: ResolvedPipeline, only: readonly string[]): Set<string> {
  const byId = new Map(pipeline.steps.map((s) => [s.id, s]));
  for (const id of only) {
    if (!byId.has(id)) throw new ConfigError(`--only: no step '${id}'`, { hint: `steps: ${[...byId.keys()].join(', ')}` });
  }
  const needed = new Set<string>();
  const visit = (id: string) => {
    if (needed.has(id)) return;
    needed.add(id);
    for (const dep of byId.get(id)?.dependsOn ?? []) visit(dep);
  };
  for (const id of only) visit(id);
  return needed;
}

/** Says what a killed run left behind (its lock, temp files) and removes the temps. */
async function cleanUpAfterKill(runDir: string, lock: HeldLock, display: PipelineDisplay): Promise<void> {
  if (lock.replaced !== undefined) display.warn(`removed the lock of process ${lock.replaced.pid} on ${lock.replaced.host} (${lock.replaced.purpose}), which is no longer running`);
  const removed = await removeStaleTemps(runDir, { lockName: STAGE_LOCK_FILE });
  if (removed.length > 0) {
    const megabytes = (removed.reduce((sum, r) => sum + r.bytes, 0) / 1e6).toFixed(1);
    display.warn(`removed ${removed.length} temporary file(s) a killed run left (${megabytes} MB): ${removed.map((r) => r.path).join(', ')}`);
  }
}

function appendLog(path: string, value: unknown): void {
  try {
    appendFileSync(path, `${JSON.stringify(value)}\n`);
  } catch {
    // The log is for reading afterwards; the manifests are the record.
  }
}

function describe(error: unknown, signal: AbortSignal | undefined): StepResult['error'] {
  if (signal?.aborted) return { kind: 'aborted', message: String((signal.reason as Error | undefined)?.message ?? signal.reason ?? 'aborted') };
  const e = error as { kind?: unknown; message?: unknown; hint?: unknown };
  return {
    kind: typeof e.kind === 'string' ? e.kind : 'internal',
    message: typeof e.message === 'string' ? e.message : String(error),
    ...(typeof e.hint === 'string' ? { hint: e.hint } : {}),
  };
}

const noop = () => undefined;
function guard(display: PipelineDisplay | undefined): PipelineDisplay {
  if (display === undefined) return { start: noop, stepStart: noop, event: noop, stepEnd: noop, finish: noop, warn: (message) => void process.stderr.write(`warning: ${message}\n`) };
  const safe =
    <A extends unknown[]>(f: (...args: A) => void) =>
    (...args: A) => {
      try {
        f(...args);
      } catch {
        // A broken display must not break a run.
      }
    };
  return {
    start: safe(display.start.bind(display)),
    stepStart: safe(display.stepStart.bind(display)),
    event: safe(display.event.bind(display)),
    stepEnd: safe(display.stepEnd.bind(display)),
    finish: safe(display.finish.bind(display)),
    warn: safe(display.warn.bind(display)),
  };
}
