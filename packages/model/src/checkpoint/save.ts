import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tf, writeFileAtomic } from '@circuit-tuning/runtime';
import { toHuggingFaceConfig } from '../config/hf-config';
import { bytesPerElement } from '../safetensors/dtypes';
import {
  formatShardIndex,
  parseShardSize,
  planShards,
  SHARD_FILE_PATTERN,
  SHARD_INDEX_FILE,
  shardFileName,
  type WritableTensor,
  writeSafetensors,
} from '../safetensors/index';
import type { TransformerModel } from '../transformer/model';
import { type HfMapping, hfMappings } from './hf-layout';
import { CONFIG_FILE } from './load';
import { WEIGHTS_FILE } from './weights-files';

/** transformers' default `max_shard_size` for save_pretrained. */
export const DEFAULT_MAX_SHARD_SIZE = '5GB';

export interface SaveModelOptions {
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Extra `__metadata__` entries for every safetensors file. */
  metadata?: Record<string, string>;
  /**
   * Weights above this size are split into `model-0000N-of-0000M.safetensors` shards with a
   * `model.safetensors.index.json`, as transformers' save_pretrained does: a byte count or a string
   * such as "5GB" or "2GiB" (default "5GB").
   */
  maxShardSize?: number | string;
}

/**
 * Writes the model in the Hugging Face layout it was loaded from (config.json, model.safetensors
 * or shards and their index, without key prefix, tokenizer files), each file atomically, so a
 * checkpoint trained here loads in Python tools. Shards are produced one at a time: only one
 * shard's file tensors are copied out of the model at once. Weight files of an earlier save in the
 * same directory that this save does not rewrite (a single file replaced by shards, or shards of
 * another count) are removed after the new ones are in place, as save_pretrained does.
 */
export async function saveModel(model: TransformerModel, dir: string, options: SaveModelOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const dtype = options.dtype ?? 'F32';
  const maxBytes = parseShardSize(options.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE, 'maxShardSize');
  const groups = fileTensorGroups(model);
  const plan = planShards(
    [...groups].map(([name, mappings]) => ({ name, bytes: mappings[0]!.hfShape.reduce((a, b) => a * b, 1) * bytesPerElement(dtype) })),
    maxBytes,
  );
  const metadata = { format: 'pt', ...options.metadata };
  const written: string[] = [];
  if (plan.shards.length === 1) {
    await writeSafetensors(join(dir, WEIGHTS_FILE), await fileTensors(model, plan.shards[0]!, groups, dtype), metadata);
    written.push(WEIGHTS_FILE);
  } else {
    const weightMap = new Map<string, string>();
    for (const [i, names] of plan.shards.entries()) {
      const file = shardFileName(i + 1, plan.shards.length);
      await writeSafetensors(join(dir, file), await fileTensors(model, names, groups, dtype), metadata);
      for (const name of names) weightMap.set(name, file);
      written.push(file);
    }
    await writeFileAtomic(join(dir, SHARD_INDEX_FILE), formatShardIndex(plan.totalSize, weightMap));
    written.push(SHARD_INDEX_FILE);
  }
  await removeStaleWeights(dir, written);
  const configText = `${JSON.stringify(toHuggingFaceConfig(model.config), null, 2)}\n`;
  await writeFileAtomic(join(dir, CONFIG_FILE), async (fh) => {
    await fh.writeFile(configText);
  });
  if (model.tokenizer) await model.tokenizer.save(dir);
}

/** File tensor name → the canonical parameters it is made of (GPT-2's c_attn fuses three), in mapping order. */
function fileTensorGroups(model: TransformerModel): Map<string, HfMapping[]> {
  const groups = new Map<string, HfMapping[]>();
  for (const mapping of hfMappings(model.config)) groups.set(mapping.hfName, [...(groups.get(mapping.hfName) ?? []), mapping]);
  return groups;
}

/** The named file tensors in the file's layout (fused c_attn, transposed Linear weights), as typed arrays. */
async function fileTensors(
  model: TransformerModel,
  names: readonly string[],
  groups: ReadonlyMap<string, HfMapping[]>,
  dtype: 'F32' | 'F16' | 'BF16',
): Promise<Map<string, WritableTensor>> {
  const out = new Map<string, WritableTensor>();
  for (const name of names) {
    const mappings = groups.get(name)!;
    // A new tensor per file tensor, disposed as soon as its values are copied out.
    const tensor = tf.tidy(() => {
      const parts: tf.Tensor[] = [];
      for (const mapping of mappings) {
        const value = model.params.get(mapping.canonical);
        const t = mapping.transform;
        if (t.kind === 'columns') parts[t.part] = value;
        else parts[0] = t.kind === 'transpose' ? tf.transpose(value) : tf.clone(value);
      }
      return parts.length > 1 ? tf.concat(parts, parts[0]!.rank - 1) : parts[0]!;
    });
    try {
      out.set(name, { dtype, shape: mappings[0]!.hfShape, data: (await tensor.data()) as Float32Array });
    } finally {
      tensor.dispose();
    }
  }
  return out;
}

/** Removes weight files of an earlier save that the new save did not write (only names this package writes). */
async function removeStaleWeights(dir: string, written: readonly string[]): Promise<void> {
  const keep = new Set(written);
  for (const entry of await readdir(dir)) {
    const ours = entry === WEIGHTS_FILE || entry === SHARD_INDEX_FILE || SHARD_FILE_PATTERN.test(entry);
    if (ours && !keep.has(entry)) await rm(join(dir, entry), { force: true });
  }
}
