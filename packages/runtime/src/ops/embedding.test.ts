import { ContractError } from '@circuit-tuning/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, shutdownBackend } from '../backend/select';
import { tf } from '../backend/tf';
import { embeddingLookup } from './embedding';

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs((x[i] ?? Number.NaN) - (y[i] ?? 0)));
  return worst;
}

afterAll(async () => {
  await shutdownBackend();
});

describe.each(['cpu', 'wasm', 'native'] as const)('embeddingLookup on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, threads: 1, log: () => {} });
  });

  it('looks up rows and differentiates like a one-hot matmul, repeated ids summed', () => {
    const vocab = 11;
    const d = 6;
    const table = tf.randomNormal([vocab, d], 0, 1, 'float32', 5) as tf.Tensor2D;
    // [batch 2, pos 5] with repeats (3 four times, 7 twice) and unused rows.
    const ids = tf.tensor2d([3, 7, 3, 0, 10, 3, 3, 7, 1, 2], [2, 5], 'int32');
    const weights = tf.randomUniform([2, 5, d], -1, 1, 'float32', 9);
    const loss = (lookup: (t: tf.Tensor2D) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.mul(lookup(t as tf.Tensor2D), weights));
    const oneHot = (t: tf.Tensor2D) =>
      tf.matMul(tf.oneHot(ids.reshape([-1]) as tf.Tensor1D, vocab).toFloat() as tf.Tensor2D, t).reshape([2, 5, d]);

    const rows = embeddingLookup(table, ids); // [2, 5, d]
    expect(maxDiff(rows, oneHot(table))).toBeLessThan(1e-6);
    const got = tf.grad(loss((t) => embeddingLookup(t, ids)))(table);
    const want = tf.grad(loss(oneHot))(table);
    expect(maxDiff(got, want)).toBeLessThan(1e-5);
    // Row 3 collects four positions' gradients; row 4 none.
    expect(Math.abs(got.slice([3, 0], [1, d]).sum().dataSync()[0] ?? 0)).toBeGreaterThan(0);
    expect(got.slice([4, 0], [1, d]).abs().sum().dataSync()[0]).toBe(0);
    tf.dispose([table, ids, weights, rows, got, want]);
  });

  it('rejects float ids and a table that is not 2-D', () => {
    const table = tf.zeros([4, 2]) as tf.Tensor2D;
    expect(() => embeddingLookup(table, tf.tensor1d([1, 2]))).toThrow(ContractError);
    expect(() => embeddingLookup(tf.zeros([4]) as unknown as tf.Tensor2D, tf.tensor1d([1], 'int32'))).toThrow(/\[vocab, d\]/);
  });
});
