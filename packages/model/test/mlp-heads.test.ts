import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpt2Config, llamaConfig, type ModelConfig, TransformerModel } from '../src/index';

beforeAll(() => ensureBackend());

const configs: [string, ModelConfig][] = [
  ['gpt2', gpt2Config({ nLayers: 2, nHeads: 2, dModel: 16, vocabSize: 20, maxPositions: 8 })],
  ['llama', llamaConfig({ nLayers: 2, nHeads: 4, nKvHeads: 2, dModel: 16, dMlp: 48, vocabSize: 20, maxPositions: 8 })],
];

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('MLP heads in the forward pass (docs/method.md §1)', () => {
  for (const [name, config] of configs) {
    it(`${name}: the heads' outputs plus b_out are the MLP's output; per-head probe gradients sum to the MLP probe's`, async () => {
      const model = await TransformerModel.random(config, 3);
      const k = 4;
      const ids = tf.tensor2d([[1, 4, 7, 2, 9], [3, 3, 8, 0, 5]], [2, 5], 'int32');
      const plain = model.forward(ids, { captureWriters: true });
      const split = model.forward(ids, { captureWriters: true, mlpHeads: k });
      expect(maxDiff(plain.logits, split.logits)).toBeLessThan(1e-4);
      for (let layer = 0; layer < config.nLayers; layer++) {
        const heads = split.writers!.mlpHeads![layer]!;
        expect(heads.shape).toEqual([k, 10, config.dModel]);
        const bOut = model.params.has(`blocks.${layer}.mlp.b_out`) ? model.params.get(`blocks.${layer}.mlp.b_out`) : tf.zeros([config.dModel]);
        const summed = tf.add(tf.sum(heads, 0), bOut);
        expect(maxDiff(summed, plain.writers!.mlps[layer]!)).toBeLessThan(1e-4);
        summed.dispose();
      }
      // Zero probes: one per MLP head, against one per MLP. The heads read the same residual, so
      // ∂M/∂(shared input) = Σ_j ∂M/∂(head j's input).
      const tokens = 10;
      const attention = Array.from({ length: config.nLayers }, () => tf.zeros([3 * config.nHeads, tokens, config.dModel]) as tf.Tensor3D);
      const mlp = Array.from({ length: config.nLayers }, () => tf.zeros([tokens, config.dModel]) as tf.Tensor2D);
      const mlpHeads = Array.from({ length: config.nLayers }, () => tf.zeros([k, tokens, config.dModel]) as tf.Tensor3D);
      const logits = tf.zeros([tokens, config.dModel]) as tf.Tensor2D;
      const metric = (out: tf.Tensor3D) => tf.sum(tf.mul(out, out)) as tf.Scalar;
      const whole = tf.grads((...m: tf.Tensor[]) => metric(model.forward(ids, { probes: { attention, mlp: m as tf.Tensor2D[], logits } }).logits))(mlp);
      const perHead = tf.grads((...m: tf.Tensor[]) =>
        metric(model.forward(ids, { mlpHeads: k, probes: { attention, mlp, mlpHeads: m as tf.Tensor3D[], logits } }).logits),
      )(mlpHeads);
      for (let layer = 0; layer < config.nLayers; layer++) {
        const summed = tf.sum(perHead[layer]!, 0);
        const scale = tf.max(tf.abs(whole[layer]!)).dataSync()[0]!;
        expect(scale).toBeGreaterThan(0);
        expect(maxDiff(summed, whole[layer]!) / scale).toBeLessThan(1e-4);
        // Heads differ through their slices: not every head gets the same gradient.
        expect(maxDiff(tf.slice(perHead[layer]!, [0, 0, 0], [1, tokens, config.dModel]), tf.slice(perHead[layer]!, [1, 0, 0], [1, tokens, config.dModel]))).toBeGreaterThan(0);
        summed.dispose();
      }
      expect(() => model.forward(ids, { mlpHeads: 5 })).toThrow(/do not divide/);
      tf.dispose([ids, plain.logits, split.logits, ...attention, ...mlp, ...mlpHeads, logits, ...whole, ...perHead]);
      for (const out of [plain, split]) for (const t of [out.writers!.input, ...out.writers!.heads, ...out.writers!.mlps, ...(out.writers!.mlpHeads ?? [])]) t.dispose();
      model.dispose();
    });
  }
});
