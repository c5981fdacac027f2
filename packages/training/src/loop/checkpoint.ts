import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ArtifactError } from '@circuit-tuning/contracts';
import { loadModel, readSafetensors, saveModel, type TransformerModel, writeSafetensors } from '@circuit-tuning/model';
import { sha256File, tf, writeDirAtomic, writeFileAtomic } from '@circuit-tuning/runtime';
import type { Optimizer } from '../optim/index';

export const CHECKPOINTS_DIR = 'checkpoints';
const OPTIMIZER_FILE = 'optimizer.safetensors';
const STATE_FILE = 'trainer_state.json';
const EXTRA_FILE = 'extra_variables.safetensors';

/** A log row: numbers, null where a column does not apply, text for the few text columns. */
export type LogRow = Record<string, number | string | null>;

/** What a run needs, beyond weights and optimizer state, to continue exactly where it stopped. */
export interface TrainerState {
  /** Steps completed; the next step to run. */
  step: number;
  configHash: string;
  /** The log rows so far, as plain JSON (they also go to log.arrow). */
  log: LogRow[];
  /**
   * The step plan's own state (a circuit-tuning run's current circuit, found at an earlier step),
   * so that the steps after a resume plan exactly what the uninterrupted run planned.
   */
  plan?: unknown;
  /** Size and sha256 of every other file of the checkpoint: a torn checkpoint is recognised on resume. */
  files?: Record<string, { bytes: number; sha256: string }>;
}

const stepDirName = (step: number) => `step-${String(step).padStart(7, '0')}`;

/**
 * Writes a checkpoint as a directory in the Hugging Face layout plus optimizer and trainer state.
 * It is assembled by the runtime's writeDirAtomic (packages/runtime/src/fs/atomic-write.ts) under a
 * temporary name, every file flushed to disk, and renamed into place, so a kill or a crash mid-write leaves the previous checkpoint as the latest.
 * The trainer state, written last, records every other file's size and hash. Older checkpoints are
 * not removed here (pruneCheckpoints): the loop keeps them until the new one has proved sound.
 */
export async function saveCheckpoint(
  runDir: string,
  state: TrainerState,
  model: TransformerModel,
  optimizer: Optimizer,
  extra?: ReadonlyMap<string, tf.Variable>,
): Promise<string> {
  const final = join(runDir, CHECKPOINTS_DIR, stepDirName(state.step));
  await writeDirAtomic(
    final,
    async (dir) => {
      await saveModel(model, dir);
      const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const [name, tensor] of optimizer.state()) tensors.set(name, { shape: tensor.shape, data: (await tensor.data()) as Float32Array });
      await writeSafetensors(join(dir, OPTIMIZER_FILE), tensors, { optimizer: optimizer.kind });
      if (extra && extra.size > 0) {
        const extraTensors = new Map<string, { shape: number[]; data: Float32Array }>();
        for (const [name, v] of extra) extraTensors.set(name, { shape: v.shape, data: (await v.data()) as Float32Array });
        await writeSafetensors(join(dir, EXTRA_FILE), extraTensors);
      }
      const files: NonNullable<TrainerState['files']> = {};
      for (const name of (await readdir(dir)).sort()) {
        const path = join(dir, name);
        files[name] = { bytes: (await stat(path)).size, sha256: await sha256File(path) };
      }
      await writeFileAtomic(join(dir, STATE_FILE), stringifyState({ ...state, files }));
    },
    // A checkpoint of the same step from a run that died after writing it: this one supersedes it.
    { replace: (path) => rm(path, { recursive: true, force: true }) },
  );
  return final;
}

/** Removes all but the newest `keep` checkpoints. */
export async function pruneCheckpoints(runDir: string, keep: number): Promise<void> {
  const all = await listCheckpoints(runDir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) await rm(old.dir, { recursive: true, force: true });
}

/** Removes the checkpoints of step `from` and later (written by updates that made the run diverge). */
export async function removeCheckpointsFrom(runDir: string, from: number): Promise<string[]> {
  const removed: string[] = [];
  for (const c of await listCheckpoints(runDir)) {
    if (c.step < from) continue;
    await rm(c.dir, { recursive: true, force: true });
    removed.push(c.dir);
  }
  return removed;
}

/** Checkpoint folders of a run, oldest first (temporary directories of a killed write are skipped). */
export async function listCheckpoints(runDir: string): Promise<{ step: number; dir: string }[]> {
  const root = join(runDir, CHECKPOINTS_DIR);
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^step-\d+$/.test(n))
    .map((n) => ({ step: Number(n.slice(5)), dir: join(root, n) }))
    .sort((a, b) => a.step - b.step);
}

/** Reads only a checkpoint's trainer state (step, config hash, log, plan state). */
export async function readTrainerState(dir: string): Promise<TrainerState> {
  const statePath = join(dir, STATE_FILE);
  try {
    return parseState(await readFile(statePath, 'utf8'));
  } catch (error) {
    throw new ArtifactError(statePath, `cannot be read as a trainer state: ${(error as Error).message}`);
  }
}

/**
 * Reads a checkpoint's trainer state and checks that every file it lists is there with its size and
 * hash: a checkpoint torn by a crash (or truncated since) fails here, naming the file.
 */
export async function verifyCheckpoint(dir: string): Promise<TrainerState> {
  const state = await readTrainerState(dir);
  for (const [name, expected] of Object.entries(state.files ?? {})) {
    const path = join(dir, name);
    let bytes: number;
    try {
      bytes = (await stat(path)).size;
    } catch {
      throw new ArtifactError(path, 'is missing from its checkpoint');
    }
    if (bytes !== expected.bytes) throw new ArtifactError(path, `has ${bytes} bytes, but its checkpoint recorded ${expected.bytes} (truncated)`);
    if ((await sha256File(path)) !== expected.sha256) throw new ArtifactError(path, 'does not match the hash its checkpoint recorded (damaged)');
  }
  return state;
}

/** Restores a checkpoint into `model` (weights assigned in place) and `optimizer`; returns the trainer state. */
export async function restoreCheckpoint(
  dir: string,
  model: TransformerModel,
  optimizer: Optimizer,
  extra?: ReadonlyMap<string, tf.Variable>,
): Promise<TrainerState> {
  const state = await readTrainerState(dir);
  const checkpointModel = await loadModel(dir, { tokenizer: 'optional' });
  model.params.assign(new Map(checkpointModel.params.entries()));
  checkpointModel.dispose();
  const saved = await readSafetensors(join(dir, OPTIMIZER_FILE));
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of saved.tensors) tensors.set(name, { shape: t.shape, data: t.data as Float32Array });
  optimizer.loadState(tensors);
  if (extra && extra.size > 0) {
    const savedExtra = await readSafetensors(join(dir, EXTRA_FILE));
    for (const [name, variable] of extra) {
      const value = savedExtra.tensors.get(name);
      if (!value) throw new ArtifactError(join(dir, EXTRA_FILE), `has no variable '${name}'`);
      variable.assign(tf.tensor(value.data as Float32Array, value.shape));
    }
  }
  return state;
}

// JSON has no NaN or ±Infinity; a log value such as a NaN metric must come back as it was, or a
// resumed run's log would differ from the uninterrupted one's.
const NON_FINITE = '$nonFinite';
const stringifyState = (state: TrainerState) =>
  JSON.stringify(state, (_key, value) => (typeof value === 'number' && !Number.isFinite(value) ? { [NON_FINITE]: String(value) } : value));
const parseState = (text: string) =>
  JSON.parse(text, (_key, value) => (value !== null && typeof value === 'object' && NON_FINITE in value ? Number(value[NON_FINITE]) : value)) as TrainerState;
