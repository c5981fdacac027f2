import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyNativeKernels } from './native-kernels';
import { initBackend, shutdownBackend } from './select';
import { tf } from './tf';

/**
 * The `native` backend's buffer pool: kernel outputs reuse freed buffers, and never one that
 * something else can still see (an array read out with dataSync, a user's array, a view that a
 * stock cpu kernel made of it).
 */

const available = applyNativeKernels(1, 'native').ok;

/** The ArrayBuffer behind a tensor on the native backend. */
function bufferOf(t: tf.Tensor): ArrayBufferLike {
  const backend = tf.backend() as unknown as { data: { get(id: object): { values: Float32Array } } };
  return backend.data.get(t.dataId).values.buffer;
}

/** An output of a native kernel (Add of equal shapes), the same size each call. */
function output(seed: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.fill([64, 64], seed), tf.fill([64, 64], 1)));
}

describe.skipIf(!available)('the native backend’s buffer pool', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'native', threads: 1, log: () => {} });
  });
  afterAll(() => shutdownBackend());

  it('reuses the buffer of a freed kernel output for the next output of its size', () => {
    const first = output(1);
    const buffer = bufferOf(first);
    first.dispose();
    const second = output(2);
    expect(bufferOf(second)).toBe(buffer);
    expect(second.dataSync()[0]).toBe(3);
    second.dispose();
  });

  it('reuses a buffer of the same size class for an output a little smaller or larger', () => {
    const first = tf.tidy(() => tf.add(tf.fill([100, 200], 1), tf.fill([100, 200], 1)));
    const buffer = bufferOf(first);
    first.dispose();
    const second = tf.tidy(() => tf.add(tf.fill([101, 200], 1), tf.fill([101, 200], 2)));
    expect(bufferOf(second)).toBe(buffer);
    expect(second.dataSync().length).toBe(101 * 200);
    expect(second.dataSync()[101 * 200 - 1]).toBe(3);
    second.dispose();
  });

  it('never reuses an array that was read out, nor a user’s array', () => {
    const first = output(1);
    const values = first.dataSync();
    first.dispose();
    const users = new Float32Array(64 * 64).fill(7);
    const mine = tf.tensor2d(users, [64, 64]);
    mine.dispose();
    const later = [output(5), output(6), output(7)];
    expect(values[0]).toBe(2);
    expect(users[0]).toBe(7);
    for (const t of later) expect(bufferOf(t)).not.toBe(values.buffer);
    tf.dispose(later);
  });

  it('never reuses a buffer that a stock kernel returned a view of', () => {
    const source = output(1);
    // tfjs-backend-cpu's StridedSlice returns a contiguous slice as a view of its input.
    const view = tf.stridedSlice(source, [0, 0], [1, 64], [1, 1]);
    source.dispose();
    const later = [output(8), output(9)];
    expect(Array.from(view.dataSync().slice(0, 3))).toEqual([2, 2, 2]);
    tf.dispose([view, ...later]);
  });
});

describe.skipIf(!available)('the native backend’s broadcasting binary ops', () => {
  afterAll(() => shutdownBackend());

  it('give tfjs-backend-cpu’s results, bit for bit, for every way of broadcasting', async () => {
    const pairs: [number[], number[]][] = [
      [[4, 5, 6], [4, 5, 6]],
      [[4, 5, 6], [4, 1, 6]],
      [[4, 5, 6], [4, 5, 1]], // a column per row (LayerNorm-like statistics)
      [[4, 1, 6], [1, 5, 1]], // both broadcast
      [[2, 3, 4, 4], [1, 1, 4, 4]], // a mask for every head
      [[3, 1], [1, 7]],
      [[6], [2, 3, 6]],
      [[2, 3, 1, 5], [3, 4, 1]],
      [[5, 4], []],
      [[0, 4], [1, 4]],
    ];
    const ops = [tf.add, tf.sub, tf.mul, tf.div] as const;
    const run = () =>
      pairs.flatMap(([sa, sb], i) =>
        ops.map((op) =>
          tf.tidy(() => {
            const a = tf.randomUniform(sa, -2, 2, 'float32', i);
            const b = tf.randomUniform(sb, 0.5, 2, 'float32', i + 50);
            const y = op(a, b);
            return { shape: y.shape, values: Array.from(y.dataSync()) };
          }),
        ),
      );
    await initBackend({ backend: 'cpu', log: () => {} });
    const want = run();
    await initBackend({ backend: 'native', threads: 1, log: () => {} });
    const got = run();
    for (let j = 0; j < want.length; j++) expect(got[j], `case ${j}`).toEqual(want[j]);
  });
});
