/**
 * What a step directory may keep between runs, and what it may take from another run: internal
 * state (a trainer's checkpoints) only for the very same step, and finished steps of other run
 * directories (a sweep's trials) only when they match exactly.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError, type StageManifest } from '@circuit-tuning/contracts';
import {
  type AnyStageDefinition,
  checkCache,
  hashConfig,
  isLockLive,
  LOG_FILE,
  outputFileName,
  parseStageConfig,
  readLockOwner,
  readManifest,
  recordArtifact,
  STAGE_LOCK_FILE,
  stageDirState,
  stageId,
  writeDirAtomic,
} from '@circuit-tuning/runtime';
import { RESOLVED_FILE, type ResolvedStep } from './resolve';
import { stepDir } from './run-dir';

/**
 * A step directory holds more than outputs: a training stage keeps its checkpoints there to
 * resume. That state is only valid for the very same step (stage version, config, seed, input
 * bytes) whose run was interrupted; anything else (another variant swapped in, a changed config,
 * --force) starts from an empty directory, so no stage ever resumes from another's state.
 * Only a directory a stage made (it has a manifest.json) is ever cleared.
 */
export async function clearStaleState(definition: AnyStageDefinition, step: ResolvedStep, inputs: Record<string, string>, runDir: string, force: boolean): Promise<void> {
  const stageDir = stepDir(runDir, step.id);
  const state = await stageDirState(stageDir);
  if (state === 'absent' || state === 'empty') return;
  if (state === 'foreign') throw new ConfigError(`${stageDir} was not made by a step (it has no manifest.json); nothing in it is deleted`, { hint: 'move it away, or give another --run-dir' });
  let previous: StageManifest | undefined;
  try {
    previous = await readManifest(stageDir);
  } catch {
    previous = undefined;
  }
  if (!force && previous !== undefined) {
    const { stage } = previous;
    const key = await cacheKey(definition, step, inputs, runDir);
    const sameStep =
      stage.slot === definition.slot &&
      stage.variant === definition.variant &&
      stage.version === definition.version &&
      previous.configHash === key.configHash &&
      previous.seed === key.seed &&
      previous.inputs.length === key.inputs.length &&
      key.inputs.every((input) => previous.inputs.some((p) => p.port === input.port && p.sha256 === input.sha256));
    if (sameStep) return;
  }
  await removeStageDir(stageDir);
}

/** Removes a step's directory, unless another process (a `ct stage` into it) is running there. */
export async function removeStageDir(stageDir: string): Promise<void> {
  const owner = await readLockOwner(join(stageDir, STAGE_LOCK_FILE));
  if (owner === 'unreadable' || (owner !== 'gone' && isLockLive(owner))) {
    throw new ConfigError(`${stageDir} is in use${owner === 'unreadable' ? '' : ` by process ${owner.pid} on ${owner.host} (${owner.purpose})`}`, { hint: 'wait for it to finish' });
  }
  await rm(stageDir, { recursive: true, force: true });
}

/**
 * Copies a finished step from another run directory when it ran the same stage version with the
 * same config, seed and input bytes and its outputs are intact, so runStage then reuses it.
 * Sweeps use this to compute the steps their trials share once.
 */
export async function reuseFromOtherRun(
  definition: AnyStageDefinition,
  step: ResolvedStep,
  inputs: Record<string, string>,
  runDir: string,
  candidates: readonly string[],
): Promise<string | undefined> {
  const stageDir = stepDir(runDir, step.id);
  const own = await checkCache(definition, stageDir, await cacheKey(definition, step, inputs, runDir), (port) => outputPath(definition, stageDir, port));
  if (own.hit) return undefined;
  for (const otherRun of expandRunDirs(candidates)) {
    if (otherRun === runDir) continue;
    const otherDir = join(otherRun, step.id);
    if (!existsSync(join(otherDir, 'manifest.json'))) continue;
    const key = await cacheKey(definition, step, inputs, otherRun);
    const decision = await checkCache(definition, otherDir, key, (port) => outputPath(definition, otherDir, port));
    if (!decision.hit) continue;
    // Assembled under a temp name (removed after a kill, like any temp) and renamed into place.
    await writeDirAtomic(
      stageDir,
      async (temp) => {
        for (const output of decision.manifest.outputs) {
          const name = outputFileName(output.port, definition.outputs[output.port] as never);
          await cp(join(otherDir, name), join(temp, name), { recursive: true });
        }
        if (existsSync(join(otherDir, LOG_FILE))) await cp(join(otherDir, LOG_FILE), join(temp, LOG_FILE));
        await writeFile(join(temp, 'manifest.json'), readFileSync(join(otherDir, 'manifest.json')));
      },
      // A step directory already there (one that did not match) is replaced unless a process works in it.
      { replace: removeStageDir },
    );
    return otherRun;
  }
  return undefined;
}

/** Whether the step's own directory holds a finished run that matches it exactly (what runStage would reuse). */
export async function ownStepMatches(definition: AnyStageDefinition, step: ResolvedStep, inputs: Record<string, string>, runDir: string): Promise<boolean> {
  const stageDir = stepDir(runDir, step.id);
  if (!existsSync(join(stageDir, 'manifest.json'))) return false;
  return (await checkCache(definition, stageDir, await cacheKey(definition, step, inputs, runDir), (port) => outputPath(definition, stageDir, port))).hit;
}

/** Run directories among `dirs`: each is a run directory, or a folder of them (a sweep's). Read afresh each time. */
function expandRunDirs(dirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const dir of dirs.map((d) => resolve(d))) {
    if (existsSync(join(dir, RESOLVED_FILE))) out.push(dir);
    else if (existsSync(dir)) {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory() && existsSync(join(dir, entry.name, RESOLVED_FILE))) out.push(join(dir, entry.name));
      }
    }
  }
  return out.sort();
}

/**
 * One name for a step's content address — stage version, config hash, seed and input bytes, what
 * checkCache compares — so that a shared artifact store (store/step-sync.ts) finds a finished
 * step from any machine under the same key this module matches by.
 */
export async function stepContentKey(definition: AnyStageDefinition, step: ResolvedStep, inputs: Record<string, string>, runDir: string): Promise<string> {
  const key = await cacheKey(definition, step, inputs, runDir);
  const identity = {
    stage: { slot: definition.slot, variant: definition.variant, version: definition.version },
    configHash: key.configHash,
    seed: key.seed,
    inputs: key.inputs.map((input) => ({ port: input.port, sha256: input.sha256 })).sort((a, b) => (a.port < b.port ? -1 : 1)),
  };
  return hashConfig(identity);
}

async function cacheKey(definition: AnyStageDefinition, step: ResolvedStep, inputs: Record<string, string>, runDir: string) {
  const config = parseStageConfig(stageId(definition), definition.config, step.config);
  const records = [];
  for (const [port, spec] of Object.entries(definition.inputs)) {
    const path = inputs[port];
    if (path !== undefined) records.push(await recordArtifact({ port, spec, path, runDir, check: 'metadata' }));
  }
  return { configHash: hashConfig(config), seed: step.seed, inputs: records };
}

function outputPath(definition: AnyStageDefinition, stageDir: string, port: string): string {
  const spec = definition.outputs[port];
  if (spec === undefined) throw new ConfigError(`no output port '${port}'`);
  return join(stageDir, outputFileName(port, spec));
}

