/**
 * A run index: what a step that takes `{collect: ...}` receives. Stages have fixed ports, so a
 * stage that reads "every earlier step" (the report, a comparison) gets one JSON file listing
 * those steps, their configs and their outputs with sha256. Its hash changes whenever any listed
 * output changes, which is what keeps such a stage's cache honest. It holds nothing that varies
 * between two runs of the same pipeline (no times, no absolute paths), so a resumed run and an
 * uninterrupted one give the same index when their outputs are the same.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { ArtifactError, ArtifactRecord, StageIdentity, type StageManifest } from '@circuit-tuning/contracts';
import { writeJsonAtomic } from '../fs/index';
import { z } from 'zod';

export const RUN_INDEX_SCHEMA = 'ct.run.index';

export const RunIndexStep = z.strictObject({
  id: z.string(),
  /** The foreach entry and item the step was expanded from. */
  group: z.string().optional(),
  item: z.string().optional(),
  stage: StageIdentity,
  seed: z.number().int().nonnegative(),
  backend: z.string().optional(),
  config: z.record(z.string(), z.unknown()),
  configHash: z.string(),
  /** The step's directory, relative to the run directory. */
  dir: z.string(),
  inputs: z.array(ArtifactRecord),
  outputs: z.array(ArtifactRecord),
});
export type RunIndexStep = z.infer<typeof RunIndexStep>;

export const RunIndex = z.strictObject({
  schema: z.literal(RUN_INDEX_SCHEMA),
  version: z.literal(1),
  pipeline: z.string(),
  seed: z.number().int().nonnegative(),
  /** The run directory, relative to the index file's directory. */
  root: z.string(),
  steps: z.array(RunIndexStep),
});
export type RunIndex = z.infer<typeof RunIndex>;

export function indexStep(id: string, manifest: StageManifest, extra: { group?: string | undefined; item?: string | undefined }): RunIndexStep {
  return {
    id,
    ...(extra.group === undefined ? {} : { group: extra.group }),
    ...(extra.item === undefined ? {} : { item: extra.item }),
    stage: manifest.stage,
    seed: manifest.seed,
    ...(manifest.backend === undefined ? {} : { backend: manifest.backend.name }),
    config: manifest.config,
    configHash: manifest.configHash,
    dir: id,
    // A file from outside the run is named by its base name: the index must not depend on where the checkout is.
    inputs: manifest.inputs.map((input) => (isAbsolute(input.path) ? { ...input, path: `external:${basename(input.path)}` } : input)),
    outputs: manifest.outputs,
  };
}

export async function writeRunIndex(path: string, index: Omit<RunIndex, 'schema' | 'version' | 'root'>): Promise<void> {
  await writeJsonAtomic(path, RunIndex.parse({ schema: RUN_INDEX_SCHEMA, version: 1, root: '..', ...index }));
}

export interface LoadedRunIndex {
  index: RunIndex;
  /** The run directory, absolute. */
  runDir: string;
  /** Absolute path of an artifact a step recorded. */
  pathOf(record: ArtifactRecord): string;
}

export async function readRunIndex(path: string): Promise<LoadedRunIndex> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ArtifactError(path, `cannot be read as JSON (${(error as Error).message})`, { cause: error });
  }
  const parsed = RunIndex.safeParse(json);
  if (!parsed.success) throw new ArtifactError(path, `is not a run index (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
  const runDir = resolve(dirname(path), parsed.data.root);
  return { index: parsed.data, runDir, pathOf: (record) => (record.path.startsWith('/') ? record.path : join(runDir, record.path)) };
}
