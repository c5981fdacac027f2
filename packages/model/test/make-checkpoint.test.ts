import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel, readSafetensors, readSafetensorsHeader, type TransformerModel } from '../src/index';
import { type HfLlamaConfig, naiveLogits, type Weights } from './llama-naive';
import { maxAbsDiff } from './shared-data';

/**
 * scripts/make-checkpoint.ts at the Llama family's test size (`--config llama-tiny`: Llama-3.2-1B's config with
 * 2 layers, d 32 and the llama3 rope scaling active within a few tokens), run as the command it is:
 * BF16 shards with the index transformers writes, a tokenizer that fits the vocabulary, and logits
 * that match the naive reference on the weights read back from the shards.
 */
const packageDir = fileURLToPath(new URL('..', import.meta.url));
let dir: string;
let model: TransformerModel;

beforeAll(async () => {
  await ensureBackend();
  dir = join(await mkdtemp(join(tmpdir(), 'ct-make-llama-')), 'out');
  await promisify(execFile)('npx', ['tsx', 'scripts/make-checkpoint.ts', dir, '--config', 'llama-tiny', '--max-shard-size', '20KB'], {
    cwd: packageDir,
    timeout: 120_000,
  });
  model = await loadModel(dir);
}, 150_000);

describe('make-checkpoint --config llama-tiny', () => {
  it('writes BF16 shards of at most the size asked, with their index', async () => {
    const index = JSON.parse(await readFile(join(dir, 'model.safetensors.index.json'), 'utf8')) as {
      metadata: { total_size: number };
      weight_map: Record<string, string>;
    };
    const shards = (await readdir(dir)).filter((f) => f.endsWith('.safetensors')).sort();
    expect(shards).toEqual([...new Set(Object.values(index.weight_map))].sort());
    expect(shards.length).toBeGreaterThan(2);
    let total = 0;
    for (const shard of shards) {
      const header = await readSafetensorsHeader(join(dir, shard));
      expect(header.tensors.every((t) => t.dtype === 'BF16' && index.weight_map[t.name] === shard)).toBe(true);
      const bytes = header.tensors.reduce((a, t) => a + t.dataOffsets[1] - t.dataOffsets[0], 0);
      expect(bytes <= 20_000 || header.tensors.length === 1).toBe(true);
      total += bytes;
    }
    expect(index.metadata.total_size).toBe(total);
    expect(index.weight_map['lm_head.weight']).toBeUndefined(); // tied
  });

  it("keeps Llama-3.2-1B's config keys and a tokenizer inside the vocabulary", async () => {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: 'llama', vocab_size: 128256, tie_word_embeddings: true, rope_theta: 500000, bos_token_id: 128000 });
    expect(config['rope_scaling']).toMatchObject({ rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4 });
    expect(model.config.ropeScaling).toMatchObject({ type: 'llama3', factor: 32 });
    const ids = model.encode('the keys to the cabinet', { bos: true });
    expect(ids[0]).toBe(128000);
    expect(Math.max(...ids)).toBeLessThan(128256);
    expect(model.tokenizer!.decode(ids, { skipSpecialTokens: true })).toBe('the keys to the cabinet');
  });

  it('computes what the naive reference computes from the shards', async () => {
    const hf = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as HfLlamaConfig;
    const weights: Weights = new Map();
    for (const shard of (await readdir(dir)).filter((f) => f.endsWith('.safetensors'))) {
      for (const [name, t] of (await readSafetensors(join(dir, shard))).tensors) weights.set(name, { shape: t.shape, data: t.data as Float32Array });
    }
    const ids = [128000, 5, 77, 1024, 50256, 9, 31];
    const expected = naiveLogits(hf, weights, ids).flat();
    const got = tf.tidy(() => model.logits(tf.tensor2d([ids], [1, ids.length], 'int32')).dataSync());
    const scale = expected.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-4 * scale);
  });
});
