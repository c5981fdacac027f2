/**
 * Sharded checkpoints as Hugging Face writes them: `model-00001-of-00003.safetensors` … and an index
 * `model.safetensors.index.json` = `{"metadata": {"total_size": bytes}, "weight_map": {tensor: file}}`
 * (transformers' save_pretrained, with huggingface_hub's split_torch_state_dict_into_shards).
 */
import { readFile } from 'node:fs/promises';
import { ArtifactError, ConfigError } from '@circuit-tuning/contracts';

export const SHARD_INDEX_FILE = 'model.safetensors.index.json';
/** The shard names this package writes (and cleans up when a later save replaces them). */
export const SHARD_FILE_PATTERN = /^model-\d{5}-of-\d{5}\.safetensors$/;

/** `model-00002-of-00003.safetensors` for shard 2 of 3 (1-based, as Hugging Face numbers them). */
export const shardFileName = (shard: number, shards: number): string =>
  `model-${String(shard).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;

export interface ShardIndex {
  readonly path: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Tensor name → shard file name (in the index's directory). */
  readonly weightMap: ReadonlyMap<string, string>;
}

/** Reads and checks an index: every shard is a plain file name in the same directory. */
export async function readShardIndex(path: string): Promise<ShardIndex> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ArtifactError(path, 'cannot be read', { cause, hint: (cause as NodeJS.ErrnoException).code });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ArtifactError(path, `is not valid JSON: ${(cause as Error).message}`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(json) || !isObject(json['weight_map'])) {
    throw new ArtifactError(path, 'is not a safetensors index: it needs a "weight_map" object of tensor name → shard file');
  }
  const weightMap = new Map<string, string>();
  for (const [name, file] of Object.entries(json['weight_map'])) {
    if (typeof file !== 'string' || !/^[\w.-]+\.safetensors$/.test(file) || file.startsWith('.')) {
      throw new ArtifactError(path, `weight_map['${name}'] must name a .safetensors file in the same directory, got ${JSON.stringify(file)}`);
    }
    weightMap.set(name, file);
  }
  if (weightMap.size === 0) throw new ArtifactError(path, 'weight_map is empty');
  const metadata = json['metadata'];
  return { path, metadata: isObject(metadata) ? metadata : {}, weightMap };
}

/** The index file's text, as transformers writes it (sorted keys, two-space indent, final newline). */
export function formatShardIndex(totalSize: number, weightMap: ReadonlyMap<string, string>): string {
  const sorted: Record<string, string> = {};
  for (const name of [...weightMap.keys()].sort()) sorted[name] = weightMap.get(name)!;
  return `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sorted }, null, 2)}\n`;
}

export interface ShardPlan {
  /** Tensor names per shard, in the order given. */
  readonly shards: readonly (readonly string[])[];
  readonly totalSize: number;
}

/**
 * Splits tensors (in the order given) into shards of at most `maxBytes`, as huggingface_hub does:
 * a tensor larger than the limit gets a shard of its own; otherwise a tensor that would overflow
 * the current shard starts a new one.
 */
export function planShards(tensors: readonly { name: string; bytes: number }[], maxBytes: number): ShardPlan {
  const shards: string[][] = [];
  let current: string[] = [];
  let currentSize = 0;
  let totalSize = 0;
  for (const { name, bytes } of tensors) {
    totalSize += bytes;
    if (bytes > maxBytes) {
      shards.push([name]);
      continue;
    }
    if (currentSize + bytes > maxBytes && current.length > 0) {
      shards.push(current);
      current = [];
      currentSize = 0;
    }
    current.push(name);
    currentSize += bytes;
  }
  if (current.length > 0) shards.push(current);
  return { shards, totalSize };
}

const UNITS: Readonly<Record<string, number>> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };

/**
 * A shard size as transformers' `max_shard_size` takes it: a byte count, or a string such as
 * "5GB" (10^9 bytes per GB), "500MB", "2GiB" (2^30 bytes per GiB).
 */
export function parseShardSize(value: number | string, where = 'max shard size'): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value > 0) return value;
    throw new ConfigError(`${where}: ${value} is not a positive whole number of bytes`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]I?B|B)?\s*$/i.exec(value);
  const bytes = match ? Math.floor(Number(match[1]) * UNITS[(match[2] ?? 'B').toUpperCase()]!) : Number.NaN;
  if (!(bytes > 0)) throw new ConfigError(`${where}: ${JSON.stringify(value)} is not a size`, { hint: 'e.g. "5GB", "500MB", "2GiB", or a byte count' });
  return bytes;
}
