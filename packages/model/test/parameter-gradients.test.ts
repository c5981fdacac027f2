import { initBackend, shutdownBackend, tf } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpt2Config, llamaConfig, type ModelConfig, TransformerModel } from '../src/index';

/**
 * Every parameter's gradient through the whole forward pass (custom-gradient norms, gelu_new,
 * attention, tape-light adds and reshapes, the cached-transpose unembedding) against central
 * finite differences, on tiny GPT-2 and Llama models. The loss is a fixed random projection of
 * the logits, so every logit counts.
 */

const configs: [string, ModelConfig][] = [
  ['GPT-2', gpt2Config({ nLayers: 2, nHeads: 2, dModel: 8, vocabSize: 13, maxPositions: 6 })],
  ['Llama', llamaConfig({ nLayers: 2, nHeads: 2, nKvHeads: 1, dModel: 8, dMlp: 16, vocabSize: 13, maxPositions: 6 })],
];

afterAll(async () => {
  await shutdownBackend();
});

describe.each(['cpu', 'wasm', 'native'] as const)('parameter gradients on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, threads: 1, log: () => {} });
  });

  it.each(configs)('%s: every parameter matches central differences', async (_, config) => {
    const model = await TransformerModel.random(config, 3);
    // Larger weights than GPT-2's 0.02 init, so that no gradient is too small to check.
    model.params.assign(new Map(model.params.entries().map(([name, v]) => [name, tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', 5)))])));
    const ids = tf.tensor2d([1, 5, 2, 7, 3, 0, 4, 9], [2, 4], 'int32');
    const r = tf.randomNormal([2, 4, config.vocabSize], 0, 1, 'float32', 9);
    const loss = () => tf.sum(tf.mul(model.logits(ids), r)) as tf.Scalar;
    const variables = model.params.entries().map(([, v]) => v);
    const { value, grads } = tf.variableGrads(loss, variables);
    value.dispose();
    const rng = tf.randomUniform([1000], 0, 1, 'float32', 11).dataSync();
    let pick = 0;
    for (const [name, variable] of model.params.entries()) {
      const grad = grads[variable.name]!.dataSync();
      const base = variable.dataSync().slice();
      // Three entries per parameter.
      for (let n = 0; n < 3; n++) {
        const i = Math.floor(rng[pick++ % rng.length]! * base.length);
        const at = (delta: number) => {
          const changed = base.slice();
          changed[i] = base[i]! + delta;
          variable.assign(tf.tensor(changed, variable.shape));
          return tf.tidy(() => loss().dataSync()[0]!);
        };
        const eps = 1e-2;
        const numeric = (at(eps) - at(-eps)) / (2 * eps);
        variable.assign(tf.tensor(base, variable.shape));
        expect(Math.abs(grad[i]! - numeric), `${name}[${i}]: analytic ${grad[i]} vs numeric ${numeric}`).toBeLessThan(2e-2 * Math.max(1, Math.abs(numeric)));
      }
    }
    tf.dispose([ids, r, ...Object.values(grads)]);
    model.dispose();
  });
});
