import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, shutdownBackend } from '../backend/select';
import { tf } from '../backend/tf';
import { embeddingLookup } from './embedding';
import { batchMatMul, matMul } from './matmul';

afterAll(async () => {
  await shutdownBackend();
});

describe.each(['cpu', 'wasm', 'native'] as const)('tensor count on %s', (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, threads: 1, log: () => {} });
  });

  it('stays flat over repeated forward and backward passes inside tf.tidy', () => {
    const table = tf.variable(tf.randomNormal([20, 8], 0, 1, 'float32', 1) as tf.Tensor2D);
    const w = tf.variable(tf.randomNormal([8, 8], 0, 1, 'float32', 2) as tf.Tensor2D);
    const ids = tf.tensor2d([1, 4, 4, 9, 0, 19], [2, 3], 'int32');

    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const x = embeddingLookup(table, ids); // [2, 3, 8]
          const h = matMul(x, w).reshape([2, 3, 2, 4]).transpose([0, 2, 1, 3]); // [2, 2, 3, 4]
          const scores = batchMatMul(h, h, true); // [2, 2, 3, 3]
          return tf.sum(batchMatMul(tf.softmax(scores), h)); // scalar
        });
        return tf.add(value, tf.addN(Object.values(grads).map((g) => tf.sum(g))));
      });

    tf.dispose(step()); // the first call may create lasting state (e.g. kernel setup)
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.dispose(step());
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([table, w, ids]);
  });
});
