import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { clipFactor, nextTokenLoss } from './loss';

beforeAll(() => ensureBackend());

describe('nextTokenLoss', () => {
  it('is the weighted mean of −log softmax(logits[t])[ids[t+1]], and its gradient matches finite differences', () => {
    const [batch, seq, vocab] = [2, 4, 5];
    const logits = Array.from({ length: batch * seq * vocab }, (_, i) => Math.sin(i * 1.7) * 3);
    const ids = [1, 4, 0, 2, 3, 3, 1, 0];
    const weights = [1, 2, 0, 1, 1, 1, 1, 0]; // a weighted target, a padded position; the last weights are unused
    let total = 0;
    let weightSum = 0;
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < seq - 1; t++) {
        const row = logits.slice((b * seq + t) * vocab, (b * seq + t + 1) * vocab);
        const lse = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
        const w = weights[b * seq + t]!;
        total += w * (lse - row[ids[b * seq + t + 1]!]!);
        weightSum += w;
      }
    }
    const idsT = tf.tensor2d(ids, [batch, seq], 'int32');
    const weightsT = tf.tensor2d(weights, [batch, seq]);
    const loss = (x: tf.Tensor) => nextTokenLoss(x as tf.Tensor3D, idsT, weightsT);
    const x = tf.tensor3d(logits, [batch, seq, vocab]);
    expect(loss(x).dataSync()[0]).toBeCloseTo(total / weightSum, 5);

    const grad = tf.grad(loss)(x).dataSync();
    const h = 1e-2;
    for (const i of [0, 7, 13, 22, 31, 39]) {
      const bump = (d: number) => loss(tf.tensor3d(logits.map((v, j) => (j === i ? v + d : v)), [batch, seq, vocab])).dataSync()[0]!;
      expect(grad[i]).toBeCloseTo((bump(h) - bump(-h)) / (2 * h), 3);
    }
    // The last position predicts nothing: no gradient reaches its logits.
    expect(Array.from(grad.slice((seq - 1) * vocab, seq * vocab)).every((g) => g === 0)).toBe(true);
  });
});

describe('clipFactor', () => {
  it('measures the norm over the entries a step updates: a mask leaves the rest out', () => {
    const grads = [tf.tensor1d([3, 4]), tf.tensor2d([[12, 100], [0, 0]])];
    const whole = clipFactor(grads, undefined);
    expect(whole.norm.dataSync()[0]).toBeCloseTo(Math.sqrt(9 + 16 + 144 + 10000), 3);
    // The second parameter trains only its first entry (a circuit's slice): 3² + 4² + 12² = 13².
    const mask = tf.tensor2d([[1, 0], [0, 0]]);
    const masked = clipFactor(grads, 6.5, [undefined, mask]);
    expect(masked.norm.dataSync()[0]).toBeCloseTo(13, 4);
    expect(masked.factor.dataSync()[0]).toBeCloseTo(0.5, 4);
    tf.dispose([...grads, mask, whole.norm, whole.factor, masked.norm, masked.factor]);
  });
});
