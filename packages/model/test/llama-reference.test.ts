import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CircuitRun, loadModel, saveModel, writeSafetensors } from '../src/index';
import { baseLlama, naiveLogits, randomWeights } from './llama-naive';
import { maxAbsDiff } from './shared-data';

/**
 * A Llama checkpoint written in Hugging Face's own layout and the naive loop implementation of
 * transformers' forward pass in llama-naive.ts: our loader and decomposed transformer must agree
 * with it. The other Llama-family configs (rope scaling, biases, windows, shards) are in
 * llama-family.test.ts.
 */
const hf = baseLlama;
const weights = randomWeights(hf);
let dir: string;
const tokens = [3, 17, 5, 29, 0, 11, 8];

beforeAll(async () => {
  await ensureBackend();
  dir = await mkdtemp(join(tmpdir(), 'ct-llama-'));
  await writeFile(join(dir, 'config.json'), JSON.stringify(hf));
  await writeSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' });
});

describe('Llama (RMSNorm, rotary, SwiGLU, grouped-query attention)', () => {
  it('matches a naive implementation of the Hugging Face forward pass', async () => {
    const model = await loadModel(dir, { tokenizer: 'optional' });
    expect(model.config).toMatchObject({ architecture: 'llama', nKvHeads: 2, gatedMlp: true, norm: 'rmsnorm' });
    const got = tf.tidy(() => model.logits(tf.tensor2d([tokens], [1, tokens.length], 'int32')).dataSync());
    expect(maxAbsDiff(got, naiveLogits(hf, weights, tokens).flat())).toBeLessThan(1e-4);
    model.dispose();
  });

  it('decomposes and masks consistently: every edge kept equals the plain forward', async () => {
    const model = await loadModel(dir, { tokenizer: 'optional' });
    const ids = tf.tensor2d([tokens, [...tokens].reverse()], [2, tokens.length], 'int32');
    const ablated = tf.tidy(() => model.forward(tf.reverse(ids, 1) as tf.Tensor2D, { captureWriters: true }).writers!);
    const graph = model.graph();
    const circuit: CircuitRun = { graph, keep: new Float32Array(graph.edgeCount).fill(1), ablated };
    const [plain, decomposed, masked] = tf.tidy(() => [
      model.logits(ids).dataSync(),
      model.forward(ids, { captureWriters: true }).logits.dataSync(),
      model.forward(ids, { circuit }).logits.dataSync(),
    ]);
    expect(maxAbsDiff(decomposed!, plain!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(masked!, plain!)).toBeLessThan(1e-4);
    tf.dispose([ids, ablated]);
    model.dispose();
  });

  it('saves and reloads to identical logits, in the Hugging Face layout', async () => {
    const model = await loadModel(dir, { tokenizer: 'optional' });
    const out = await mkdtemp(join(tmpdir(), 'ct-llama-saved-'));
    await saveModel(model, out);
    const reloaded = await loadModel(out, { tokenizer: 'optional' });
    const ids = tf.tensor2d([tokens], [1, tokens.length], 'int32');
    const [a, b] = tf.tidy(() => [model.logits(ids).dataSync(), reloaded.logits(ids).dataSync()]);
    expect(maxAbsDiff(a!, b!)).toBe(0);
    tf.dispose(ids);
    model.dispose();
    reloaded.dispose();
  });
});
