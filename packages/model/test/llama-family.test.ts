import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromHuggingFaceConfig, loadModel, readSafetensorsHeader, saveModel, toHuggingFaceConfig, type TransformerModel, writeSafetensors } from '../src/index';
import { roundToBf16 } from '../src/safetensors/index';
import { baseLlama, type HfLlamaConfig, naiveLogits, randomWeights, type Weights } from './llama-naive';
import { maxAbsDiff } from './shared-data';

/**
 * Every Llama-family config key that changes the computation, each against the naive reference of
 * transformers' forward pass (llama-naive.ts), on checkpoints these tests write themselves.
 */
const tokens = [3, 17, 5, 29, 0, 11, 8];

beforeAll(() => ensureBackend());

async function checkpoint(hf: HfLlamaConfig, weights: Weights): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ct-llama-family-'));
  await writeFile(join(dir, 'config.json'), JSON.stringify(hf));
  await writeSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' });
  return dir;
}

async function ourLogits(dirOrModel: string | TransformerModel, ids = tokens): Promise<Float32Array> {
  const model = typeof dirOrModel === 'string' ? await loadModel(dirOrModel, { tokenizer: 'optional' }) : dirOrModel;
  const logits = tf.tidy(() => model.logits(tf.tensor2d([ids], [1, ids.length], 'int32')).dataSync() as Float32Array);
  if (typeof dirOrModel === 'string') model.dispose();
  return logits;
}

/** Our logits match the naive reference, and the naive reference differs from `without` by more than `minEffect`. */
async function expectMatch(hf: HfLlamaConfig, options: { without?: HfLlamaConfig; minEffect?: number; ids?: number[] } = {}): Promise<number> {
  const ids = options.ids ?? tokens;
  const weights = randomWeights(hf);
  const expected = naiveLogits(hf, weights, ids).flat();
  expect(maxAbsDiff(await ourLogits(await checkpoint(hf, weights), ids), expected)).toBeLessThan(1e-4);
  if (!options.without) return 0;
  const effect = maxAbsDiff(naiveLogits(options.without, weights, ids).flat(), expected);
  expect(effect).toBeGreaterThan(options.minEffect ?? 0.05);
  return effect;
}

const llama3Scaling = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 };

describe('rope_scaling', () => {
  it('llama3: low frequencies divided by factor, high kept, the band between interpolated', async () => {
    // head_dim 4 → frequencies 1 (wavelength 6.3: between 16/4 and 16/1, interpolated) and 0.01 (divided by 8).
    await expectMatch({ ...baseLlama, rope_scaling: llama3Scaling }, { without: baseLlama });
  });

  it('linear: every frequency divided by factor (the older `type` key too)', async () => {
    await expectMatch({ ...baseLlama, rope_scaling: { rope_type: 'linear', factor: 4 } }, { without: baseLlama });
    await expectMatch({ ...baseLlama, rope_scaling: { type: 'linear', factor: 4 } }, { without: baseLlama });
  });

  it('dynamic: the base grows only when the sequence is longer than max_position_embeddings', async () => {
    const dynamic = { ...baseLlama, max_position_embeddings: 4, rope_scaling: { rope_type: 'dynamic', factor: 2 } };
    await expectMatch(dynamic, { without: { ...baseLlama, max_position_embeddings: 4 } }); // 7 tokens > 4
    const short = tokens.slice(0, 4);
    const weights = randomWeights(dynamic);
    const got = await ourLogits(await checkpoint(dynamic, weights), short);
    expect(maxAbsDiff(got, naiveLogits({ ...baseLlama, max_position_embeddings: 4 }, weights, short).flat())).toBeLessThan(1e-4);
  });

  it('rope_parameters (transformers 5) with rope_theta inside, and rope_type default', async () => {
    const weights = randomWeights(baseLlama);
    const { rope_theta: _theta, ...rest } = baseLlama;
    const v5 = { ...rest, rope_parameters: { ...llama3Scaling, rope_theta: 10000 } };
    const expected = naiveLogits({ ...baseLlama, rope_scaling: llama3Scaling }, weights, tokens).flat();
    expect(maxAbsDiff(await ourLogits(await checkpoint(v5 as unknown as HfLlamaConfig, weights)), expected)).toBeLessThan(1e-4);
    const plain = { ...baseLlama, rope_scaling: { rope_type: 'default' } };
    expect(maxAbsDiff(await ourLogits(await checkpoint(plain, weights)), naiveLogits(baseLlama, weights, tokens).flat())).toBeLessThan(1e-4);
  });
});

describe('biases, head sizes, tied embeddings, windows', () => {
  it("Qwen2: q/k/v biases and no o_proj bias", async () => {
    const qwen: HfLlamaConfig = { ...baseLlama, model_type: 'qwen2' };
    const weights = randomWeights(qwen);
    expect(weights.has('model.layers.0.self_attn.q_proj.bias')).toBe(true);
    expect(weights.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
    const noBias = new Map([...weights].filter(([name]) => !name.endsWith('.bias')));
    expect(maxAbsDiff(naiveLogits(baseLlama, noBias, tokens).flat(), naiveLogits(qwen, weights, tokens).flat())).toBeGreaterThan(0.05);
    await expectMatch(qwen);
  });

  it('Llama attention_bias: biases on q, k, v and o', async () => {
    await expectMatch({ ...baseLlama, attention_bias: true });
  });

  it('head_dim different from hidden_size / num_attention_heads', async () => {
    await expectMatch({ ...baseLlama, head_dim: 8 });
    await expectMatch({ ...baseLlama, head_dim: 2, rope_scaling: llama3Scaling });
  });

  it('tie_word_embeddings true (no lm_head) and false', async () => {
    await expectMatch({ ...baseLlama, tie_word_embeddings: true });
    await expectMatch({ ...baseLlama, tie_word_embeddings: false });
  });

  it("Mistral's sliding_window: a token sees itself and the window − 1 before it", async () => {
    const mistral: HfLlamaConfig = { ...baseLlama, model_type: 'mistral', sliding_window: 3 };
    await expectMatch(mistral, { without: { ...mistral, sliding_window: null } });
  });

  it('a config saved here reads back to the same config, in the class that computes it', () => {
    for (const hf of [
      { ...baseLlama, rope_scaling: llama3Scaling, head_dim: 8, tie_word_embeddings: true },
      { ...baseLlama, model_type: 'qwen2', rope_scaling: { rope_type: 'dynamic', factor: 2 } },
      { ...baseLlama, model_type: 'qwen2', use_sliding_window: true, sliding_window: 5, max_window_layers: 0 },
      { ...baseLlama, model_type: 'mistral', sliding_window: 3, rope_scaling: { rope_type: 'linear', factor: 2 } },
      { ...baseLlama, attention_bias: true },
    ]) {
      const config = fromHuggingFaceConfig(hf, 'config.json');
      const written = toHuggingFaceConfig(config);
      expect(written['model_type']).toBe(hf.model_type);
      expect(fromHuggingFaceConfig(JSON.parse(JSON.stringify(written)), 'config.json')).toEqual(config);
    }
  });
});

describe('sharded checkpoints', () => {
  const hf: HfLlamaConfig = { ...baseLlama, rope_theta: 500000, rope_scaling: llama3Scaling, tie_word_embeddings: true };

  it('reads BF16 shards through their index, as Hugging Face writes them', async () => {
    const weights = randomWeights(hf);
    const rounded: Weights = new Map([...weights].map(([n, t]) => [n, { shape: t.shape, data: t.data.map(roundToBf16) }]));
    const dir = await mkdtemp(join(tmpdir(), 'ct-llama-shards-'));
    await writeFile(join(dir, 'config.json'), JSON.stringify(hf));
    const names = [...weights.keys()];
    const shards = [names.slice(0, 5), names.slice(5, 14), names.slice(14)];
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    for (const [i, shard] of shards.entries()) {
      const file = `model-0000${i + 1}-of-00003.safetensors`;
      const tensors = new Map(shard.map((n) => [n, { dtype: 'BF16' as const, ...weights.get(n)! }]));
      await writeSafetensors(join(dir, file), tensors, { format: 'pt' });
      for (const n of shard) {
        weightMap[n] = file;
        totalSize += weights.get(n)!.data.length * 2;
      }
    }
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }));
    const expected = naiveLogits(hf, rounded, tokens).flat();
    expect(maxAbsDiff(await ourLogits(dir), expected)).toBeLessThan(1e-4);
    // The rounding is visible: the F32 weights give other logits.
    expect(maxAbsDiff(naiveLogits(hf, weights, tokens).flat(), expected)).toBeGreaterThan(1e-3);
  });

  it('writes shards above maxShardSize with the index transformers writes, and reads them back', async () => {
    const weights = randomWeights(hf);
    const model = await loadModel(await checkpoint(hf, weights), { tokenizer: 'optional' });
    const out = await mkdtemp(join(tmpdir(), 'ct-llama-saved-shards-'));
    await saveModel(model, out, { maxShardSize: '4KB' });
    const index = JSON.parse(await readFile(join(out, 'model.safetensors.index.json'), 'utf8')) as {
      metadata: { total_size: number };
      weight_map: Record<string, string>;
    };
    const files = [...new Set(Object.values(index.weight_map))].sort();
    expect(files.length).toBeGreaterThan(2);
    expect(files[0]).toBe(`model-00001-of-${String(files.length).padStart(5, '0')}.safetensors`);
    expect(Object.keys(index.weight_map).sort()).toEqual([...weights.keys()].sort());
    expect(index.metadata.total_size).toBe([...weights.values()].reduce((a, t) => a + t.data.length * 4, 0));
    expect((await readdir(out)).filter((f) => f.endsWith('.safetensors')).sort()).toEqual(files);
    for (const file of files) {
      const header = await readSafetensorsHeader(join(out, file));
      const bytes = header.tensors.reduce((a, t) => a + t.dataOffsets[1] - t.dataOffsets[0], 0);
      // A shard holds at most 4,000 bytes unless one tensor alone is larger.
      expect(bytes <= 4000 || header.tensors.length === 1).toBe(true);
    }
    const reloaded = await loadModel(out, { tokenizer: 'optional' });
    expect(maxAbsDiff(await ourLogits(reloaded), await ourLogits(model))).toBe(0);
    reloaded.dispose();

    // BF16 shards, then a save below the limit replaces them with one file (no stale shards left).
    await saveModel(model, out, { maxShardSize: 4000, dtype: 'BF16' });
    const bf16Shards = (await readdir(out)).filter((f) => f.endsWith('.safetensors'));
    expect(bf16Shards.length).toBeGreaterThan(1);
    for (const file of bf16Shards) expect((await readSafetensorsHeader(join(out, file))).tensors.every((t) => t.dtype === 'BF16')).toBe(true);
    await saveModel(model, out);
    expect((await readdir(out)).filter((f) => f.includes('safetensors')).sort()).toEqual(['model.safetensors']);
    model.dispose();
  });
});
