import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ArtifactError } from '@circuit-tuning/contracts';
import { readSafetensorsHeader, readShardIndex, SHARD_INDEX_FILE, type TensorEntry } from '../safetensors/index';

/** The single-file weights of a model directory. */
export const WEIGHTS_FILE = 'model.safetensors';

/** Where one tensor of a checkpoint lives. */
export interface WeightLocation {
  /** The safetensors file (a shard, or model.safetensors). */
  readonly file: string;
  readonly entry: TensorEntry;
}

/**
 * The tensors of a model directory, from `model.safetensors` or from an index and its shards. Only
 * headers are read here; tensor data is read later, one file after another.
 */
export interface WeightFiles {
  /** The file that lists the tensors (model.safetensors, or the index), named in errors about the set. */
  readonly listing: string;
  /** Every tensor, keyed by its name in the file. */
  readonly tensors: ReadonlyMap<string, WeightLocation>;
  /** The files in the order they are read (index order of first appearance). */
  readonly files: readonly string[];
}

/** Finds and checks the weight files of `dir` (headers only); errors name the file. */
export async function locateWeightFiles(dir: string): Promise<WeightFiles> {
  const single = join(dir, WEIGHTS_FILE);
  const index = join(dir, SHARD_INDEX_FILE);
  const [hasSingle, hasIndex] = await Promise.all([isFile(single), isFile(index)]);
  if (hasSingle && hasIndex) {
    throw new ArtifactError(dir, `holds both ${WEIGHTS_FILE} and ${SHARD_INDEX_FILE}; which weights are meant is ambiguous`, {
      hint: 'remove the one that is stale.',
    });
  }
  if (!hasIndex) {
    // A missing model.safetensors fails here with "file not found" naming it.
    const header = await readSafetensorsHeader(single);
    const tensors = new Map(header.tensors.map((entry) => [entry.name, { file: single, entry }]));
    return { listing: single, tensors, files: [single] };
  }
  const { weightMap } = await readShardIndex(index);
  const byFile = new Map<string, string[]>();
  for (const [name, file] of weightMap) {
    const names = byFile.get(file) ?? [];
    names.push(name);
    byFile.set(file, names);
  }
  const tensors = new Map<string, WeightLocation>();
  const files: string[] = [];
  for (const [fileName, names] of byFile) {
    const file = join(dir, fileName);
    files.push(file);
    const header = await readSafetensorsHeader(file);
    const inFile = new Map(header.tensors.map((entry) => [entry.name, entry]));
    const absent = names.filter((name) => !inFile.has(name));
    if (absent.length > 0) {
      throw new ArtifactError(file, `lacks ${absent.length} tensor(s) that ${SHARD_INDEX_FILE} maps to it: ${listNames(absent)}`);
    }
    const unlisted = header.tensors.filter((entry) => weightMap.get(entry.name) !== fileName).map((entry) => entry.name);
    if (unlisted.length > 0) {
      throw new ArtifactError(file, `holds ${unlisted.length} tensor(s) that ${SHARD_INDEX_FILE} does not map to this file: ${listNames(unlisted)}`);
    }
    for (const name of names) tensors.set(name, { file, entry: inFile.get(name)! });
  }
  return { listing: index, tensors, files };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** 'a', 'b', … (N in all): names quoted, the first dozen shown. */
export function listNames(names: readonly string[], shown = 12): string {
  const head = names.slice(0, shown).map((n) => `'${n}'`).join(', ');
  return names.length > shown ? `${head}, … (${names.length} in all)` : head;
}
