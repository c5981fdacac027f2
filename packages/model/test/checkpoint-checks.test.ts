import { copyFile, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactError, exitCodeFor } from '@circuit-tuning/contracts';
import { ensureBackend, runStage, silentReporter } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel, readSafetensors, writeSafetensors } from '../src/index';
import { loadModelStage } from '../src/stages';
import { baseLlama, type HfLlamaConfig, randomWeights } from './llama-naive';
import { tinyGpt2Dir } from './shared-data';

/**
 * The loader refuses broken models (issue 14, finding 6): non-finite weights, tensors config.json
 * does not account for or lacks, and Llama-family config keys it does not implement, each with an
 * ArtifactError (exit code 5) naming the file and the tensors or key.
 */
beforeAll(() => ensureBackend());

/** A copy of the shared tiny GPT-2 (2 layers), with its tensors edited by `edit`. */
async function gpt2Copy(edit?: (tensors: Map<string, { shape: number[]; data: Float32Array }>) => void, configEdit?: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ct-broken-'));
  const config = JSON.parse(await readFile(join(tinyGpt2Dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, ...configEdit }));
  if (!edit) {
    await copyFile(join(tinyGpt2Dir, 'model.safetensors'), join(dir, 'model.safetensors'));
    return dir;
  }
  const file = await readSafetensors(join(tinyGpt2Dir, 'model.safetensors'));
  const tensors = new Map([...file.tensors].map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data) }]));
  edit(tensors);
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return dir;
}

async function loadError(dir: string): Promise<ArtifactError> {
  const error = await loadModel(dir, { tokenizer: 'optional' }).then(
    (model) => {
      model.dispose();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ArtifactError);
  expect(exitCodeFor[(error as ArtifactError).kind]).toBe(5);
  return error as ArtifactError;
}

describe('weights the config does not describe', () => {
  it('a NaN weight is an error naming the tensor and the file', async () => {
    const dir = await gpt2Copy((t) => {
      t.get('h.1.mlp.c_fc.weight')!.data[17] = Number.NaN;
    });
    const error = await loadError(dir);
    expect(error.message).toBe(
      `${join(dir, 'model.safetensors')}: tensor 'h.1.mlp.c_fc.weight' holds NaN at index 17 (1 of 4096 values are NaN or infinite)`,
    );
  });

  it('an infinite weight likewise', async () => {
    const dir = await gpt2Copy((t) => {
      const data = t.get('ln_f.bias')!.data;
      data[0] = Number.POSITIVE_INFINITY;
      data[3] = Number.NEGATIVE_INFINITY;
    });
    expect((await loadError(dir)).message).toMatch(/model\.safetensors: tensor 'ln_f\.bias' holds Infinity at index 0 \(2 of 32 values/);
  });

  it('n_layer: 1 over a 2-layer file lists the tensors of the layer it would drop', async () => {
    const dir = await gpt2Copy(undefined, { n_layer: 1 });
    const error = await loadError(dir);
    expect(error.message).toContain(`${join(dir, 'model.safetensors')}: holds 12 tensor(s) that config.json (gpt2, 1 layers`);
    expect(error.message).toContain("does not account for: 'h.1.ln_1.weight', 'h.1.ln_1.bias', 'h.1.attn.c_attn.weight'");
  });

  it('a missing tensor is listed', async () => {
    const dir = await gpt2Copy((t) => {
      t.delete('h.0.ln_2.bias');
      t.delete('wpe.weight');
    });
    expect((await loadError(dir)).message).toMatch(/model\.safetensors: lacks 2 tensor\(s\) that config\.json \(.*\) needs: 'wpe\.weight', 'h\.0\.ln_2\.bias'/);
  });

  it("GPT-2's saved attention-mask buffers are not weights and are accepted", async () => {
    const dir = await gpt2Copy((t) => {
      t.set('h.0.attn.bias', { shape: [1, 1, 16, 16], data: new Float32Array(256).fill(1) });
      t.set('h.1.attn.masked_bias', { shape: [], data: Float32Array.of(-1e4) });
    });
    (await loadModel(dir, { tokenizer: 'optional' })).dispose();
  });

  it("GPT2LMHeadModel's layout: the body under `transformer.`, an untied lm_head.weight without it", async () => {
    const dir = await gpt2Copy(
      (t) => {
        for (const [name, tensor] of [...t]) {
          t.delete(name);
          t.set(`transformer.${name}`, tensor);
        }
        t.set('lm_head.weight', { shape: [50, 32], data: new Float32Array(50 * 32).fill(0.01) });
      },
      { tie_word_embeddings: false },
    );
    const model = await loadModel(dir, { tokenizer: 'optional' });
    expect(model.params.get('unembed.W_U').dataSync()[0]).toBeCloseTo(0.01);
    model.dispose();
  });

  it('load:hf fails on such a model and writes no copy of it', async () => {
    const withNaN = await gpt2Copy((t) => {
      t.get('wte.weight')!.data[0] = Number.NaN;
    });
    for (const source of [await gpt2Copy(undefined, { n_layer: 1 }), withNaN]) {
      const stageDir = await mkdtemp(join(tmpdir(), 'ct-load-broken-'));
      await expect(
        runStage(loadModelStage, { stageDir, inputs: { source }, config: { tokenizer: 'optional' }, reporter: silentReporter }),
      ).rejects.toBeInstanceOf(ArtifactError);
      const written = await readdir(stageDir, { recursive: true });
      expect(written.filter((f) => String(f).endsWith('.safetensors'))).toEqual([]);
    }
  });
});

async function llamaDir(hf: Record<string, unknown>, weights = randomWeights(baseLlama)): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ct-llama-keys-'));
  await writeFile(join(dir, 'config.json'), JSON.stringify(hf));
  await writeSafetensors(join(dir, 'model.safetensors'), weights);
  return dir;
}

describe('Llama-family config keys that are not implemented', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['an unknown rope type', { rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16 } }, /config\.json: rope_scaling\.rope_type "yarn" is not implemented/],
    ['a rope type without its factor', { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 } }, /config\.json: rope_scaling\.original_max_position_embeddings must be a positive number for rope_type "llama3", got nothing/],
    ['rope_scaling without a type', { rope_scaling: { factor: 2 } }, /config\.json: rope_scaling has no rope_type/],
    ['partial rotary embeddings', { partial_rotary_factor: 0.5 }, /config\.json: partial_rotary_factor 0\.5 is not implemented/],
    ['a quantized checkpoint', { quantization_config: { quant_method: 'bitsandbytes' } }, /config\.json: quantization_config: quantized checkpoints are not supported/],
    ['another activation', { hidden_act: 'gelu' }, /config\.json: not a valid Llama-family config: hidden_act: /],
    ['an MLP bias', { mlp_bias: true }, /config\.json: mlp_bias: true is not supported/],
    [
      "Qwen2's window on some layers only",
      { model_type: 'qwen2', use_sliding_window: true, sliding_window: 4, max_window_layers: 1 },
      /config\.json: a sliding window on only some layers .* is not implemented/,
    ],
  ];
  for (const [what, keys, message] of cases) {
    it(`${what} is an error naming the key`, async () => {
      const dir = await llamaDir({ ...baseLlama, ...keys });
      const error = await loadError(dir);
      expect(error.file).toBe(join(dir, 'config.json'));
      expect(error.message).toMatch(message);
    });
  }
});

describe('GPT-2 config keys that are not implemented', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['unscaled attention', { scale_attn_weights: false }, /config\.json: scale_attn_weights: false is not implemented/],
    ['attention scaled by the layer index', { scale_attn_by_inverse_layer_idx: true }, /config\.json: scale_attn_by_inverse_layer_idx: true is not implemented/],
    ['a quantized checkpoint', { quantization_config: { quant_method: 'bitsandbytes' } }, /config\.json: quantization_config: quantized checkpoints are not supported/],
  ];
  for (const [what, keys, message] of cases) {
    it(`${what} is an error naming the key`, async () => {
      const dir = await gpt2Copy(undefined, keys);
      const error = await loadError(dir);
      expect(error.file).toBe(join(dir, 'config.json'));
      expect(error.message).toMatch(message);
    });
  }
});

describe('tied embeddings and shards', () => {
  it("a tied model's saved lm_head.weight must be the embedding", async () => {
    const hf: HfLlamaConfig = { ...baseLlama, tie_word_embeddings: true };
    const weights = randomWeights(hf);
    const same = new Map(weights).set('lm_head.weight', weights.get('model.embed_tokens.weight')!);
    (await loadModel(await llamaDir(hf, same), { tokenizer: 'optional' })).dispose();
    const other = new Map(weights).set('lm_head.weight', randomWeights(baseLlama).get('lm_head.weight')!);
    expect((await loadError(await llamaDir(hf, other))).message).toMatch(/tensor 'lm_head\.weight' differs from the embedding, but config\.json says tie_word_embeddings: true/);
  });

  it('an index naming a missing shard, a shard holding tensors the index does not map, and both layouts at once', async () => {
    const weights = randomWeights(baseLlama);
    const names = [...weights.keys()];
    const dir = await mkdtemp(join(tmpdir(), 'ct-shards-broken-'));
    await writeFile(join(dir, 'config.json'), JSON.stringify(baseLlama));
    const weightMap = Object.fromEntries(names.map((n, i) => [n, i < 10 ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors']));
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), new Map(names.slice(0, 10).map((n) => [n, weights.get(n)!])));
    expect((await loadError(dir)).message).toBe(`${join(dir, 'model-00002-of-00002.safetensors')}: file not found`);
    await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), new Map(names.slice(10).map((n) => [n, weights.get(n)!])));
    (await loadModel(dir, { tokenizer: 'optional' })).dispose();
    await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), new Map(names.slice(0, 11).map((n) => [n, weights.get(n)!])));
    expect((await loadError(dir)).message).toBe(
      `${join(dir, 'model-00001-of-00002.safetensors')}: holds 1 tensor(s) that model.safetensors.index.json does not map to this file: '${names[10]}'`,
    );
    await writeSafetensors(join(dir, 'model.safetensors'), weights);
    expect((await loadError(dir)).message).toMatch(/holds both model\.safetensors and model\.safetensors\.index\.json/);
  });

  it('weight_map may not point outside the model directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ct-shards-escape-'));
    await writeFile(join(dir, 'config.json'), JSON.stringify(baseLlama));
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': '../elsewhere.safetensors' } }));
    expect((await loadError(dir)).message).toMatch(/weight_map\['model\.norm\.weight'\] must name a \.safetensors file in the same directory/);
  });
});
