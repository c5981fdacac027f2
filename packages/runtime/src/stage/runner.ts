/**
 * Runs one stage in its own directory and leaves `manifest.json` describing the run. The order is
 * what makes runs safe to cache, resume and verify:
 *   parse config → hash inputs → reuse a matching succeeded run, or
 *   manifest `running` → clear old outputs → run → check and hash outputs → manifest `succeeded`
 * and on any error after the start, manifest `failed` (outputs already written are kept and
 * recorded, for debugging) and the error is rethrown. The stage directory is locked while the stage
 * runs (a second process is refused), temps a killed run left there are removed first, and a
 * directory no stage made is refused (stage-dir.ts).
 */
import { existsSync } from 'node:fs';
import { access, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  type ArtifactRecord,
  CircuitTuningError,
  ConfigError,
  ContractError,
  MANIFEST_SCHEMA_VERSION,
  type ManifestBackend,
  type StageError,
  MANIFEST_FILE,
  type StageManifest,
} from '@circuit-tuning/contracts';
import type { z } from 'zod';
import { acquireLock } from '../fs/lock-file';
import { removeStaleTemps } from '../fs/stale-temps';
import { hashConfig } from '../fs/stable-json';
import { createRng } from '../random/rng';
import { checkAgainstProducer, recordArtifact } from './artifacts';
import { checkCache } from './cache';
import { parseStageConfig } from './config';
import { type AnyStageDefinition, type StageContext, type StageDefinition, stageId, stageProducer } from './define';
import { writeManifest } from './manifest-io';
import { type InputPaths, LOG_FILE, type OutputPaths, outputFileName, type PortSpecs } from './ports';
import { createLogger, createProgress, fanOut, jsonlFileReporter, type StageLogger, type StageReporter, stderrReporter } from './reporter';
import { STAGE_LOCK_FILE, stageDirState } from './stage-dir';
import { defaultVersions } from './versions';

export interface RunStageOptions<I extends PortSpecs = PortSpecs> {
  /** Where outputs, `manifest.json` and `log.jsonl` go; created if missing. */
  stageDir: string;
  /** Manifest paths are relative to it; defaults to the stage directory's parent. */
  runDir?: string;
  /** Input port → path (relative paths resolve against the working directory). */
  inputs?: Partial<Record<keyof I & string, string>>;
  /** Raw config; defaults are applied and unknown keys rejected. */
  config?: unknown;
  /** Non-negative safe integer; defaults to 0. */
  seed?: number;
  /**
   * What the stage computes with (the runtime's `backendInfo()`); any JSON object with a name.
   * Recorded, not part of the cache key: a stage that cares folds it into its config.
   */
  backend?: ManifestBackend | Readonly<{ name: string }>;
  /** Added to (and overriding) node's and the runtime's versions. */
  versions?: Readonly<Record<string, string>>;
  /** Run even when a matching succeeded run exists. */
  force?: boolean;
  signal?: AbortSignal;
  /** Where log and progress events go besides `log.jsonl`; defaults to stderr. */
  reporter?: StageReporter;
  /**
   * Accept a stage directory that exists and was not made by a stage (it has no manifest.json).
   * Its files are still never overwritten or deleted: a run that would is refused.
   */
  allowExistingDir?: boolean;
}

export interface RunStageResult<O extends PortSpecs = PortSpecs> {
  manifest: StageManifest;
  /** Absolute paths of the outputs. */
  outputs: OutputPaths<O>;
  /** True when a previous run was reused and nothing ran. */
  cached: boolean;
}

export async function runStage<C extends z.ZodObject, I extends PortSpecs, O extends PortSpecs>(
  definition: StageDefinition<C, I, O>,
  options: RunStageOptions<I>,
): Promise<RunStageResult<O>> {
  const def = definition as unknown as AnyStageDefinition;
  const id = stageId(def);
  const identity = { slot: def.slot, variant: def.variant, version: def.version };
  const stageDir = resolve(options.stageDir);
  const runDir = resolve(options.runDir ?? dirname(stageDir));
  const config = parseStageConfig(id, def.config, options.config);
  const configHash = hashConfig(config);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ConfigError(`stage '${id}': seed must be a non-negative integer, got ${seed}`);
  const outputPath = (port: string): string => {
    const spec = Object.hasOwn(def.outputs, port) ? def.outputs[port] : undefined;
    if (spec === undefined) throw new ContractError(`stage '${id}' has no output port '${port}'; its outputs: ${Object.keys(def.outputs).join(', ')}`);
    return join(stageDir, outputFileName(port, spec));
  };
  const inputPaths = resolveInputs(def, options.inputs ?? {}, Object.keys(def.outputs).map(outputPath));
  options.signal?.throwIfAborted();
  const display = options.reporter ?? stderrReporter();

  const inputs: ArtifactRecord[] = [];
  for (const [port, spec] of Object.entries(def.inputs)) {
    const path = inputPaths[port];
    if (path === undefined) continue;
    const record = await recordArtifact({ port, spec, path, runDir, check: 'metadata' });
    await checkAgainstProducer(path, record);
    inputs.push(record);
  }

  const state = await stageDirState(stageDir);
  if (state === 'foreign') {
    if (options.allowExistingDir !== true) {
      throw new ConfigError(`${stageDir} exists and was not made by a stage (it has no manifest.json); nothing in it is overwritten or deleted`, {
        hint: 'give a new or empty directory (the command line\'s --allow-existing-dir writes beside its files)',
      });
    }
    const names = [MANIFEST_FILE, LOG_FILE, ...Object.entries(def.outputs).map(([port, spec]) => outputFileName(port, spec))];
    const taken: string[] = [];
    for (const name of names) if (await exists(join(stageDir, name))) taken.push(join(stageDir, name));
    if (taken.length > 0) throw new ConfigError(`stage '${id}' would overwrite files it did not write: ${taken.join(', ')}`, { hint: 'move them away, or give another directory' });
  }
  await mkdir(stageDir, { recursive: true });
  const lock = await acquireLock(join(stageDir, STAGE_LOCK_FILE), `stage ${id}`);
  try {
    await cleanUpAfterKill(stageDir, lock.replaced, createLogger(id, display));
    if (options.force !== true) {
      const decision = await checkCache(def, stageDir, { configHash, seed, inputs }, outputPath);
      if (decision.hit) {
        createLogger(id, display).info('reusing the previous run: config, seed and inputs are unchanged');
        const outputs = Object.fromEntries(decision.manifest.outputs.map((output) => [output.port, outputPath(output.port)]));
        return { manifest: decision.manifest, outputs: outputs as OutputPaths<O>, cached: true };
      }
      createLogger(id, display).debug(`running: ${decision.reason}`);
    }

    options.signal?.throwIfAborted();
    const startedAt = new Date();
    const clock = performance.now();
    const base = {
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      stage: identity,
      config: config as Record<string, unknown>,
      configHash,
      seed,
      ...(options.backend === undefined ? {} : { backend: { ...options.backend } as ManifestBackend }),
      versions: { ...defaultVersions(), ...options.versions },
      inputs,
      startedAt: startedAt.toISOString(),
    } as const;
    const finished = () => ({ finishedAt: new Date().toISOString(), durationMs: Math.round(performance.now() - clock) });
    // `running` goes down first: from here on, a kill leaves a manifest that no cache will trust.
    await writeManifest(stageDir, { ...base, status: 'running', outputs: [] });
    // Stale outputs would otherwise pass for this run's (an optional output the new config skips).
    for (const port of Object.keys(def.outputs)) await rm(outputPath(port), { recursive: true, force: true });
    await rm(join(stageDir, LOG_FILE), { force: true });
    const report = fanOut(display, jsonlFileReporter(join(stageDir, LOG_FILE)));
    const logger = createLogger(id, report);

    const signal = options.signal ?? new AbortController().signal;
    const context: StageContext<z.output<C>, I, O> = {
      stage: identity,
      producer: stageProducer(identity),
      config: config as z.output<C>,
      inputs: inputPaths as InputPaths<I>,
      output: outputPath,
      seed,
      random: (stream = 'default') => createRng(seed).fork(stream),
      logger,
      progress: (label, total) => createProgress(id, report, label, total),
      signal,
    };
    try {
      const result = await definition.run(context);
      const outputs = await recordOutputs(def, outputPath, runDir, 'strict');
      const summary = result?.summary;
      const manifest: StageManifest = {
        ...base,
        status: 'succeeded',
        outputs,
        ...(summary === undefined ? {} : { summary: { ...summary } }),
        ...finished(),
      };
      await writeManifest(stageDir, manifest);
      logger.info(`succeeded in ${manifest.durationMs} ms`);
      return { manifest, outputs: Object.fromEntries(outputs.map((o) => [o.port, outputPath(o.port)])) as OutputPaths<O>, cached: false };
    } catch (error) {
      const outputs = await recordOutputs(def, outputPath, runDir, 'lenient');
      const failure = describeError(error, signal);
      await writeManifest(stageDir, { ...base, status: 'failed', outputs, error: failure, ...finished() }).catch(() => undefined);
      logger.warn(`${failure.kind === 'aborted' ? 'aborted' : 'failed'}: ${failure.message}`);
      // The stack goes to log.jsonl (debug) for whoever investigates, not to the user's terminal.
      if (error instanceof Error && error.stack !== undefined) logger.debug('stack', { stack: error.stack });
      throw error;
    }
  } finally {
    await lock.release();
  }
}

/** Says what a killed run left behind (its lock, temp files) and removes the temps. */
async function cleanUpAfterKill(stageDir: string, replaced: { pid: number; host: string } | undefined, logger: StageLogger): Promise<void> {
  if (replaced !== undefined) logger.warn(`removed the lock of process ${replaced.pid} on ${replaced.host}, which is no longer running`);
  const removed = await removeStaleTemps(stageDir, { lockName: STAGE_LOCK_FILE });
  if (removed.length > 0) {
    const bytes = removed.reduce((sum, r) => sum + r.bytes, 0);
    logger.warn(`removed ${removed.length} temporary file(s) of a killed run (${bytes} bytes): ${removed.map((r) => r.path).join(', ')}`);
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Absolute input paths by port; unknown ports, missing required ones, and inputs that are this stage's own outputs are config errors. */
function resolveInputs(def: AnyStageDefinition, given: Readonly<Record<string, string | undefined>>, outputs: string[]): Record<string, string | undefined> {
  const id = stageId(def);
  const declared = Object.keys(def.inputs);
  for (const port of Object.keys(given)) {
    if (!Object.hasOwn(def.inputs, port)) {
      throw new ConfigError(`stage '${id}' has no input port '${port}'`, {
        hint: declared.length === 0 ? 'this stage takes no inputs' : `its inputs: ${declared.join(', ')}`,
      });
    }
  }
  const resolved: Record<string, string | undefined> = {};
  for (const [port, spec] of Object.entries(def.inputs)) {
    const path = given[port];
    if (path === undefined) {
      if (spec.optional === true) continue;
      throw new ConfigError(`stage '${id}': required input '${port}' is not wired`, { hint: `give a path for input port '${port}'` });
    }
    resolved[port] = resolve(path);
    if (outputs.includes(resolved[port])) {
      throw new ConfigError(`stage '${id}': input '${port}' is one of this stage's own outputs (${path})`, {
        hint: 'outputs are cleared before a run; copy the file elsewhere or run the stage in another directory',
      });
    }
  }
  return resolved;
}

/**
 * Hashes the outputs present. `strict` (after success) requires every non-optional output and
 * checks tables column by column; `lenient` (after a failure) records what is there and valid.
 */
async function recordOutputs(
  def: AnyStageDefinition,
  outputPath: (port: string) => string,
  runDir: string,
  mode: 'strict' | 'lenient',
): Promise<ArtifactRecord[]> {
  const records: ArtifactRecord[] = [];
  for (const [port, spec] of Object.entries(def.outputs)) {
    const path = outputPath(port);
    if (!existsSync(path)) {
      if (mode === 'lenient' || spec.optional === true) continue;
      throw new ContractError(`stage '${stageId(def)}' did not write its output '${port}'`, { hint: `expected at ${path}` });
    }
    try {
      records.push(await recordArtifact({ port, spec, path, runDir, check: 'full' }));
    } catch (error) {
      if (mode === 'strict') throw error;
    }
  }
  return records;
}

function describeError(error: unknown, signal: AbortSignal): StageError {
  if (signal.aborted) return { kind: 'aborted', message: messageOf(signal.reason ?? error) };
  if (error instanceof CircuitTuningError) {
    return { kind: error.kind, message: error.message, ...(error.hint === undefined ? {} : { hint: error.hint }) };
  }
  return { kind: 'internal', message: messageOf(error) };
}

function messageOf(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}

/** The run options a stage-running function passes through unchanged (everything but the wiring). */
export type StageRunSettings = Pick<RunStageOptions, 'stageDir' | 'config' | 'seed' | 'force' | 'signal' | 'reporter' | 'backend'>;

/** Picks the StageRunSettings out of a wider options object, so wrappers forward them in one line. */
export function stageRunSettings(options: StageRunSettings): StageRunSettings {
  const { stageDir, config, seed, force, signal, reporter, backend } = options;
  return { stageDir, config, seed, force, signal, reporter, backend };
}
