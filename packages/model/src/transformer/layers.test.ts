import { initBackend, opFixesFor, shutdownBackend, tf } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpt2Config, llamaConfig } from '../config/index';
import { activate, addUnsaved, attentionCore, causalMask, normalize, permuteUnsaved } from './layers';
import { releaseTransposedUnembeddings, unembedProduct } from './unembed';

/**
 * The custom-gradient layers (LayerNorm, RMSNorm, gelu_new, the cached-transpose unembedding)
 * against the composed tf ops they replace: values and gradients w.r.t. every input.
 */

function worstRelative(got: tf.Tensor, want: tf.Tensor): number {
  expect(got.shape).toEqual(want.shape);
  const g = got.dataSync();
  const w = want.dataSync();
  let worst = 0;
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i]! - w[i]!) / Math.max(1, Math.abs(w[i]!)));
  return worst;
}

/** Value and gradients of sum(f(...inputs) ⊙ r) for a fixed random r. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): tf.Tensor[] {
  return tf.tidy(() => {
    const value = f(...inputs);
    const r = tf.randomUniform(value.shape, -1, 1, 'float32', 7);
    const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)))(inputs);
    return [value, ...grads];
  });
}

function expectSame(ours: (...xs: tf.Tensor[]) => tf.Tensor, composed: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], tol = 1e-4): void {
  const got = valueAndGrads(ours, inputs);
  const want = valueAndGrads(composed, inputs);
  got.forEach((g, i) => {
    expect(worstRelative(g, want[i]!), `output ${i}`).toBeLessThan(tol);
  });
  tf.dispose([...got, ...want]);
}

const gpt2 = gpt2Config({ nLayers: 1, nHeads: 2, dModel: 8, vocabSize: 11, maxPositions: 8 });
const llama = llamaConfig({ nLayers: 1, nHeads: 2, nKvHeads: 1, dModel: 8, dMlp: 16, vocabSize: 11, maxPositions: 8 });

afterAll(async () => {
  await shutdownBackend();
});

describe.each(['cpu', 'wasm', 'native'] as const)('custom-gradient layers on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, threads: 1, log: () => {} });
  });

  it('LayerNorm matches the composed formula (2-D and the probed 3-D inputs)', () => {
    const composed = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, x.rank - 1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, gpt2.normEps))), w), b);
    };
    for (const shape of [[6, 8], [3, 6, 8]]) {
      const inputs = [tf.randomNormal(shape, 0.3, 2, 'float32', 1), tf.randomNormal([8], 1, 0.5, 'float32', 2), tf.randomNormal([8], 0, 1, 'float32', 3)];
      expectSame((x, w, b) => normalize(gpt2, x!, w!, b), composed as never, inputs);
      tf.dispose(inputs);
    }
  });

  it('RMSNorm matches the composed formula', () => {
    const composed = (x: tf.Tensor, w: tf.Tensor) => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), x.rank - 1, true), llama.normEps))), w);
    const inputs = [tf.randomNormal([2, 5, 8], 0.2, 1.5, 'float32', 4), tf.randomNormal([8], 1, 0.5, 'float32', 5)];
    expectSame((x, w) => normalize(llama, x!, w!, undefined), composed as never, inputs);
    tf.dispose(inputs);
  });

  it('gelu_new matches the composed tanh formula, also far into both tails', () => {
    const c = Math.sqrt(2 / Math.PI);
    const composed = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), c)), 1));
    const x = tf.concat([tf.randomNormal([40], 0, 2, 'float32', 6), tf.tensor1d([-12, -4, -0.5, 0, 0.5, 4, 12])]);
    expectSame((t) => activate(gpt2, t!), composed as never, [x]);
    x.dispose();
  });

  it('attention (softmax(q·kᵀ·scale + causal mask)·v) matches the composed ops, gradients w.r.t. q, k and v', () => {
    const mask = causalMask(5);
    const composed = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
      tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 0.5), mask)), v);
    const inputs = [1, 2, 3].map((seed) => tf.randomNormal([3, 5, 4], 0, 1, 'float32', seed));
    expectSame((q, k, v) => attentionCore(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, mask, 0.5), composed as never, inputs);
    tf.dispose([...inputs, mask]);
  });

  it('the tape-light add (bias and residual) and head permutation match tf.add and reshape/transpose', () => {
    const x = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 11);
    const bias = tf.randomNormal([8], 0, 1, 'float32', 12);
    const same = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 13);
    expectSame((a, b) => addUnsaved(a!, b!), (a, b) => tf.add(a!, b!), [x, bias]);
    expectSame((a, b) => addUnsaved(a!, b!), (a, b) => tf.add(a!, b!), [x, same]);
    const heads = (t: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(t, [2, 3, 2, 4]), [0, 2, 1, 3]), [4, 3, 4]);
    expectSame((t) => permuteUnsaved(t!, [2, 3, 2, 4], [0, 2, 1, 3], [4, 3, 4]), heads as never, [x]);
    tf.dispose([x, bias, same]);
  });

  it('the unembedding equals x·Wᵀ with both gradients, and follows updates of W', () => {
    const x = tf.randomNormal([6, 8], 0, 1, 'float32', 8) as tf.Tensor2D;
    const w = tf.variable(tf.randomNormal([11, 8], 0, 1, 'float32', 9), true);
    const composed = (a: tf.Tensor, b: tf.Tensor) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, false, true);
    expectSame((a, b) => unembedProduct(a as tf.Tensor2D, b as tf.Tensor2D), composed, [x, w]);
    // An update gives the variable a new dataId: the cached transpose must not be reused.
    w.assign(tf.mul(w, -2));
    expectSame((a, b) => unembedProduct(a as tf.Tensor2D, b as tf.Tensor2D), composed, [x, w]);
    // A gradient w.r.t. the variable through tf.variableGrads reaches it.
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(unembedProduct(x, w as tf.Tensor as tf.Tensor2D))) as tf.Scalar, [w]);
    const want = tf.grad((b: tf.Tensor) => tf.sum(tf.square(composed(x, b))))(w);
    expect(worstRelative(grads[w.name]!, want)).toBeLessThan(1e-4);
    const before = tf.memory().numTensors;
    tf.dispose([grads[w.name]!, want, x, w]);
    releaseTransposedUnembeddings();
    // The variable, x, two gradients and the cached transpose (kept only where matmuls are
    // untransposed-only: not with the native matmul kernels) are gone.
    const cached = opFixesFor(tf.getBackend()).has('transposed-matmul-grad');
    expect(tf.memory().numTensors).toBe(before - (cached ? 5 : 4));
  });
});
