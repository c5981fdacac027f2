import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng, writeFileAtomic } from '@circuit-tuning/runtime';
import { fromHuggingFaceConfig } from '../config/hf-config';
import { bytesPerElement } from '../safetensors/dtypes';
import {
  formatShardIndex,
  parseShardSize,
  planShards,
  SHARD_INDEX_FILE,
  type StreamedTensor,
  shardFileName,
  writeSafetensorsStreamed,
} from '../safetensors/index';
import type { Tokenizer } from '../tokenizers/index';
import { hfMappings } from './hf-layout';
import { CONFIG_FILE } from './load';
import { WEIGHTS_FILE } from './weights-files';

export interface RandomCheckpointOptions {
  seed: number;
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Shard above this size (default "5GB", as save_pretrained). */
  maxShardSize?: number | string;
  tokenizer?: Tokenizer;
  /** Extra `__metadata__` entries for every safetensors file. */
  metadata?: Record<string, string>;
}

/** Values produced per chunk: a few MB at a time, whatever the tensor's size. */
const CHUNK = 1 << 20;

/**
 * Writes a checkpoint with random weights for a Hugging Face config.json (GPT-2 or Llama family),
 * in the layout transformers reads: config.json as given, the weights (shards and their index
 * above `maxShardSize`), tokenizer files when a tokenizer is given. Nothing is held in memory but
 * one chunk of one tensor: each tensor's values are drawn from its own seeded stream
 * (`seed`, forked by tensor name) while its shard is written, so a model far larger than memory
 * can be generated. Initialisation as TransformerModel.random: normal σ 0.02 for matrices and
 * embeddings, 1 for norm weights, 0 for biases.
 */
export async function writeRandomCheckpoint(dir: string, hfConfig: Record<string, unknown>, options: RandomCheckpointOptions): Promise<void> {
  const configFile = join(dir, CONFIG_FILE);
  const config = fromHuggingFaceConfig(hfConfig, configFile);
  const dtype = options.dtype ?? 'F32';
  const maxBytes = parseShardSize(options.maxShardSize ?? '5GB', 'maxShardSize');
  await mkdir(dir, { recursive: true });

  const shapes = new Map<string, number[]>();
  for (const m of hfMappings(config)) shapes.set(m.hfName, m.hfShape);
  const plan = planShards(
    [...shapes].map(([name, shape]) => ({ name, bytes: shape.reduce((a, b) => a * b, 1) * bytesPerElement(dtype) })),
    maxBytes,
  );
  const rng = createRng(options.seed);
  const streamed = (name: string): StreamedTensor => ({ name, dtype, shape: shapes.get(name)!, values: () => randomValues(rng.fork(name), name, shapes.get(name)!) });
  const metadata = { format: 'pt', ...options.metadata };

  if (plan.shards.length === 1) {
    await writeSafetensorsStreamed(join(dir, WEIGHTS_FILE), plan.shards[0]!.map(streamed), metadata);
  } else {
    const weightMap = new Map<string, string>();
    for (const [i, names] of plan.shards.entries()) {
      const file = shardFileName(i + 1, plan.shards.length);
      await writeSafetensorsStreamed(join(dir, file), names.map(streamed), metadata);
      for (const name of names) weightMap.set(name, file);
    }
    await writeFileAtomic(join(dir, SHARD_INDEX_FILE), formatShardIndex(plan.totalSize, weightMap));
  }
  await writeFileAtomic(configFile, `${JSON.stringify(hfConfig, null, 2)}\n`);
  if (options.tokenizer) await options.tokenizer.save(dir);
}

/** A tensor's values chunk by chunk: norm weights 1, biases 0, everything else N(0, 0.02²). */
function* randomValues(stream: ReturnType<typeof createRng>, name: string, shape: readonly number[]): Generator<Float32Array> {
  const numel = shape.reduce((a, b) => a * b, 1);
  const isNorm = /(?:layernorm|norm|ln_\d|ln_f)\.weight$/.test(name);
  const isBias = name.endsWith('.bias');
  for (let start = 0; start < numel; start += CHUNK) {
    const chunk = new Float32Array(Math.min(CHUNK, numel - start));
    if (isNorm) chunk.fill(1);
    else if (!isBias) {
      // Box–Muller, both deviates of each pair (rng.normal keeps one): half the draws and logs.
      for (let i = 0; i < chunk.length; i += 2) {
        const radius = 0.02 * Math.sqrt(-2 * Math.log(1 - stream.next()));
        const angle = 2 * Math.PI * stream.next();
        chunk[i] = radius * Math.cos(angle);
        if (i + 1 < chunk.length) chunk[i + 1] = radius * Math.sin(angle);
      }
    }
    yield chunk;
  }
}
