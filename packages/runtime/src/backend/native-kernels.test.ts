import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fusedGeluTanh } from '../ops/activation';
import { maskedSoftmax, softmaxBackward } from '../ops/attention';
import { crossEntropyRows } from '../ops/loss';
import { fusedLayerNorm, fusedRmsNorm } from '../ops/norm';
import { applyNativeKernels, nativeKernelsApplied, removeNativeKernels } from './native-kernels';
import { initBackend, shutdownBackend } from './select';
import { tf } from './tf';

/**
 * The native matmul kernels against the stock wasm kernels: the same products, forward and
 * gradient, on random shapes with transposes and batch broadcasting.
 *
 * CI installs OpenBLAS, so there these tests run; on a machine without the addon or the library
 * the comparison cannot be made and the suite says so (the fallback itself is tested in
 * native-fallback.test.ts).
 */

const available = applyNativeKernels(2);
if (available.ok) removeNativeKernels();
const requireNative = process.env.CT_REQUIRE_NATIVE === '1' || process.env.CT_REQUIRE_NATIVE_BLAS === '1';

type FusedActivation = Parameters<typeof tf.fused.matMul>[0]['activation'];

interface Case {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
  /**
   * Batch axes that broadcast. tfjs 4.22's BatchMatMul gradient does not reduce them, and the
   * stock wasm kernel gets broadcasting on two axes wrong, so these compare the forward with the
   * stock product of explicitly broadcast operands.
   */
  broadcast?: boolean;
}

const CASES: Case[] = [
  { a: [3, 5], b: [5, 4], transposeA: false, transposeB: false },
  { a: [5, 3], b: [5, 4], transposeA: true, transposeB: false },
  { a: [3, 5], b: [4, 5], transposeA: false, transposeB: true },
  { a: [5, 3], b: [4, 5], transposeA: true, transposeB: true },
  { a: [64, 96], b: [96, 130], transposeA: false, transposeB: false },
  { a: [2, 6, 7, 8], b: [2, 6, 8, 9], transposeA: false, transposeB: false },
  { a: [2, 6, 7, 8], b: [2, 6, 9, 8], transposeA: false, transposeB: true },
  { a: [16, 64, 70], b: [16, 64, 70], transposeA: false, transposeB: true }, // a batch large enough to split across threads
  { a: [4, 8, 7], b: [8, 5], transposeA: true, transposeB: false, broadcast: true }, // b broadcast to every entry
  { a: [7, 8], b: [3, 8, 5], transposeA: false, transposeB: false, broadcast: true }, // a broadcast
  { a: [2, 1, 4, 6], b: [1, 3, 6, 5], transposeA: false, transposeB: false, broadcast: true }, // broadcast on two axes
  { a: [2, 1, 6, 4], b: [3, 5, 6], transposeA: true, transposeB: true, broadcast: true }, // ranks differ
  { a: [1, 0, 4], b: [1, 4, 3], transposeA: false, transposeB: false }, // empty
  { a: [2, 3, 0], b: [2, 0, 4], transposeA: false, transposeB: false }, // k = 0
];

function randomTensor(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

/** Broadcasts the batch axes of both operands to their common shape. */
function broadcastBatch(a: tf.Tensor, b: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const batch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return [tf.broadcastTo(a, [...batch, ...a.shape.slice(-2)]), tf.broadcastTo(b, [...batch, ...b.shape.slice(-2)])];
}

/** The product and both gradients (of a weighted sum, so every output element matters). */
function productAndGrads(c: Case, seed: number, explicitBroadcast = false): Float32Array[] {
  return tf.tidy(() => {
    let a = randomTensor(c.a, seed);
    let b = randomTensor(c.b, seed + 1);
    if (explicitBroadcast) [a, b] = broadcastBatch(a, b);
    const y = tf.matMul(a, b, c.transposeA, c.transposeB);
    if (c.broadcast === true) return [y.dataSync() as Float32Array];
    const w = randomTensor(y.shape, seed + 2);
    const grads = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.matMul(x, z, c.transposeA, c.transposeB).mul(w).sum());
    const [da, db] = grads([a, b]);
    return [y, da as tf.Tensor, db as tf.Tensor].map((t) => t.dataSync() as Float32Array);
  });
}

function maxRelativeError(got: Float32Array, want: Float32Array): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i] ?? Number.NaN;
    const w = want[i] ?? Number.NaN;
    worst = Math.max(worst, Math.abs(g - w) / Math.max(1, Math.abs(w)));
  }
  return worst;
}

// On wasm the native kernels are compared with the stock wasm kernels; on `native` (tensors in
// process memory) with tfjs-backend-cpu's kernels, which that backend runs where the runtime has none.
describe.skipIf(!available.ok && !requireNative).each(['wasm', 'native'] as const)('native kernels on %s', (backend) => {
  beforeAll(async () => {
    if (backend === 'wasm') await initBackend({ backend: 'wasm', threads: 2, nativeKernels: false, log: () => {} });
    else {
      await initBackend({ backend: 'native', threads: 2, log: () => {} });
      removeNativeKernels(backend);
    }
  });
  afterAll(async () => {
    removeNativeKernels(backend);
    await shutdownBackend();
  });

  it('load on this machine', () => {
    expect(available.ok, available.ok ? '' : `${available.reason}; ${available.hint}`).toBe(true);
  });

  it.each(CASES.map((c, i) => [i, c] as const))('case %i: equal the stock kernel, forward and gradient', (i, c) => {
    const want = productAndGrads(c, 100 + i, c.broadcast === true);
    expect(applyNativeKernels(2, backend).ok).toBe(true);
    try {
      const got = productAndGrads(c, 100 + i);
      expect(got.length).toBe(want.length);
      for (let j = 0; j < want.length; j++) expect(maxRelativeError(got[j] ?? new Float32Array(), want[j] ?? new Float32Array())).toBeLessThan(1e-5);
    } finally {
      removeNativeKernels(backend);
    }
  });

  // Compared with the unfused ops on the stock kernels: the stock wasm _FusedMatMul itself gets
  // batched products with transposeB and a bias wrong in tfjs 4.22 (every entry after the first row).
  it('run a fused product with bias and activation like matMul, add and the activation', () => {
    const ACTIVATIONS = {
      linear: (x: tf.Tensor) => x,
      relu: (x: tf.Tensor) => tf.relu(x),
      leakyrelu: (x: tf.Tensor) => tf.leakyRelu(x, 0.1),
      sigmoid: (x: tf.Tensor) => tf.sigmoid(x),
    };
    const operands = () => [randomTensor([2, 5, 6], 7), randomTensor([2, 4, 6], 8), randomTensor([4], 9)] as const;
    const want = tf.tidy(() => {
      const [a, b, bias] = operands();
      return Object.values(ACTIVATIONS).map((f) => f(tf.matMul(a, b, false, true).add(bias)).dataSync() as Float32Array);
    });
    expect(applyNativeKernels(2, backend).ok).toBe(true);
    try {
      const got = tf.tidy(() => {
        const [a, b, bias] = operands();
        return Object.keys(ACTIVATIONS).map(
          (activation) =>
            tf.fused
              .matMul({ a, b, transposeB: true, bias, activation: activation as FusedActivation, leakyreluAlpha: 0.1 })
              .dataSync() as Float32Array,
        );
      });
      for (let j = 0; j < want.length; j++) expect(maxRelativeError(got[j] ?? new Float32Array(), want[j] ?? new Float32Array())).toBeLessThan(1e-5);
    } finally {
      removeNativeKernels(backend);
    }
  });

  it('sum over leading, trailing, all and other axes like the stock kernel', () => {
    const run = () =>
      tf.tidy(() => {
        const x = randomTensor([6, 5, 7], 21);
        const cases: [number | number[] | undefined, boolean][] = [
          [0, false],
          [[0, 1], true],
          [2, false],
          [[1, 2], true],
          [undefined, false],
          [1, false], // a middle axis: the stock kernel
          [[0, 2], true], // not one block: the stock kernel
          [-1, false],
        ];
        const sums = cases.map(([axis, keepDims]) => {
          const y = tf.sum(x, axis, keepDims);
          return { shape: y.shape, data: y.dataSync() as Float32Array };
        });
        for (const [shape, axis] of [[[0, 3], 0], [[2, 0], 1]] as const) {
          const y = tf.sum(tf.zeros([...shape]), axis); // empty inputs: zeros of the kept shape
          sums.push({ shape: y.shape, data: y.dataSync() as Float32Array });
        }
        return sums;
      });
    const want = run();
    expect(applyNativeKernels(2, backend).ok).toBe(true);
    try {
      const got = run();
      for (let j = 0; j < want.length; j++) {
        expect(got[j]?.shape).toEqual(want[j]?.shape);
        expect(maxRelativeError(got[j]?.data ?? new Float32Array(), want[j]?.data ?? new Float32Array())).toBeLessThan(1e-5);
      }
    } finally {
      removeNativeKernels(backend);
    }
  });

  it('transpose float32 and int32 tensors of every rank like the stock kernel, bit for bit', () => {
    let state = 5;
    const next = (n: number) => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state % n;
    };
    const cases: { shape: number[]; perm: number[]; dtype: 'float32' | 'int32' }[] = [
      { shape: [16, 64, 4, 64], perm: [0, 2, 1, 3], dtype: 'float32' }, // attention heads, split across threads
      { shape: [64, 64, 64], perm: [0, 2, 1], dtype: 'float32' }, // the last axis moves
      { shape: [70, 45], perm: [1, 0], dtype: 'float32' }, // a matrix by 32 × 32 tiles, ragged edges
      { shape: [3, 33, 65], perm: [0, 2, 1], dtype: 'int32' }, // batched matrices by tiles
      { shape: [5, 40, 7], perm: [2, 1, 0], dtype: 'float32' }, // the last axis moves, not a matrix transpose
      { shape: [3, 1, 4], perm: [1, 0, 2], dtype: 'float32' }, // moves only a size-1 axis: shared
      { shape: [2, 3], perm: [0, 1], dtype: 'int32' }, // identity permutation: shared
      { shape: [0, 3], perm: [1, 0], dtype: 'float32' }, // empty
    ];
    for (let c = 0; c < 40; c++) {
      const rank = 1 + next(6);
      const shape = Array.from({ length: rank }, () => 1 + next(5));
      const perm = Array.from({ length: rank }, (_, i) => i).sort(() => next(3) - 1);
      cases.push({ shape, perm, dtype: c % 2 === 0 ? 'float32' : 'int32' });
    }
    const run = () =>
      cases.map(({ shape, perm, dtype }, i) =>
        tf.tidy(() => {
          const x = dtype === 'int32' ? tf.randomUniformInt(shape, -1000, 1000, i) : randomTensor(shape, 60 + i);
          const y = tf.transpose(x, perm);
          return { shape: y.shape, values: Array.from(y.dataSync()) };
        }),
      );
    const want = run();
    expect(applyNativeKernels(2, backend).ok).toBe(true);
    try {
      const got = run();
      for (let j = 0; j < cases.length; j++) expect(got[j], JSON.stringify(cases[j])).toEqual(want[j]);
    } finally {
      removeNativeKernels(backend);
    }
  });

  it('add equal shapes and repeated trailing blocks like the stock kernel, bit for bit', () => {
    const pairs: [number[], number[]][] = [
      [[256, 768], [256, 768]],
      [[1100, 4097], [1100, 4097]], // long enough to split across threads, with a short last row
      [[256, 768], [768]], // a bias
      [[768], [256, 768]], // the bias first
      [[48, 64, 64], [64, 64]], // a mask for every head
      [[3, 1, 5], [1, 5]],
      [[4, 1], [4]], // broadcasts both ways: the stock kernel
      [[2, 3], []], // a scalar: the stock kernel
      [[0, 3], [3]],
    ];
    const run = () =>
      pairs.map(([sa, sb], i) => {
        // Read outside tidy: tidy walks a returned object's fields, all 4.5 M of a typed array's.
        const y = tf.tidy(() => tf.add(randomTensor(sa, 80 + i), randomTensor(sb, 90 + i)));
        const values = y.dataSync() as Float32Array;
        y.dispose();
        return { shape: y.shape, values };
      });
    const want = run();
    expect(applyNativeKernels(2, backend).ok).toBe(true);
    try {
      const got = run();
      for (let j = 0; j < pairs.length; j++) {
        const [g, w] = [got[j], want[j]];
        expect(g?.shape, JSON.stringify(pairs[j])).toEqual(w?.shape);
        expect(g?.values.findIndex((v, i) => !Object.is(v, w?.values[i])), `${JSON.stringify(pairs[j])}: first entry that differs`).toBe(-1);
      }
      expect(tf.tidy(() => tf.add(tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32')).arraySync())).toEqual([4, 6]);
    } finally {
      removeNativeKernels(backend);
    }
  });

  it('compute attention’s masked softmax and its gradient like the composed ops', () => {
    const causal = tf.tensor2d(Array.from({ length: 64 * 64 }, (_, i) => (i % 64 > Math.floor(i / 64) ? -1e9 : 0)), [64, 64]);
    const run = () =>
      [
        { scores: [6, 64, 64], mask: causal }, // heads of a causal attention
        { scores: [300, 64, 64], mask: causal }, // enough rows to split across threads
        { scores: [4, 3, 5], mask: tf.tensor2d([[0, -1e9, 0, 0, 0]]) }, // one mask row for every row
      ].map(({ scores, mask }, i) =>
        tf.tidy(() => {
          const x = randomTensor(scores, 70 + i).mul(8);
          const p = maskedSoftmax(x, mask, 0.125);
          const ds = softmaxBackward(p, randomTensor(scores, 75 + i), 0.125);
          return [p.dataSync() as Float32Array, ds.dataSync() as Float32Array];
        }),
      );
    const want = run(); // without the native kernels: the composed ops
    expect(applyNativeKernels(2, backend).ok).toBe(true);
    try {
      const got = run();
      for (let c = 0; c < want.length; c++) {
        for (let j = 0; j < 2; j++) expect(maxRelativeError(got[c]?.[j] ?? new Float32Array(), want[c]?.[j] ?? new Float32Array())).toBeLessThan(1e-5);
      }
      expect(got[0]?.[0]?.[1]).toBe(0); // a masked entry
      expect(() => tf.tidy(() => maskedSoftmax(tf.zeros([3, 4]), tf.zeros([2, 4]), 1).dataSync())).toThrow(/does not fit/);
    } finally {
      removeNativeKernels(backend);
      causal.dispose();
    }
  });

  it('compute gelu_new and its gradient like the composed formula', () => {
    const c = Math.sqrt(2 / Math.PI);
    const composed = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), c)), 1));
    const run = (gelu: (x: tf.Tensor) => tf.Tensor) =>
      tf.tidy(() => {
        const x = tf.concat([randomTensor([3, 50], 31).mul(4).reshape([150]), tf.tensor1d([-12, -4, -0.5, 0, 0.5, 4, 12])]);
        const w = randomTensor(x.shape, 32);
        const dx = tf.grad((t: tf.Tensor) => gelu(t).mul(w).sum())(x);
        return [gelu(x).dataSync() as Float32Array, dx.dataSync() as Float32Array];
      });
    const want = run(composed);
    expect(applyNativeKernels(2, backend).ok).toBe(true);
    try {
      const got = run((x) => fusedGeluTanh(x) ?? tf.scalar(Number.NaN));
      for (let j = 0; j < 2; j++) expect(maxRelativeError(got[j] ?? new Float32Array(), want[j] ?? new Float32Array())).toBeLessThan(1e-5);
    } finally {
      removeNativeKernels(backend);
    }
    expect(fusedGeluTanh(tf.zeros([2]))).toBeUndefined(); // without the native kernels: the caller's version
  });

  it('compute LayerNorm and each of its gradients like the composed formula', () => {
    const eps = 1e-5;
    const composed = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, x.rank - 1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), w), b);
    };
    const run = (norm: (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
      tf.tidy(() => {
        const x = randomTensor([3, 5, 16], 41).mul(3).add(0.5);
        const w = randomTensor([16], 42);
        const b = randomTensor([16], 43);
        const weights = randomTensor([3, 5, 16], 44);
        const loss = (a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => norm(a, c, e).mul(weights).sum();
        const all = tf.grads(loss)([x, w, b]);
        const onlyX = tf.grad((a: tf.Tensor) => loss(a, w, b))(x); // w's and b's gradients never asked for
        return [norm(x, w, b), ...all, onlyX].map((t) => t.dataSync() as Float32Array);
      });
    const want = run(composed);
    expect(applyNativeKernels(2, backend).ok).toBe(true);
    try {
      const got = run((x, w, b) => fusedLayerNorm(x, w, b, eps) ?? tf.scalar(Number.NaN));
      expect(got.length).toBe(5);
      for (let j = 0; j < want.length; j++) expect(maxRelativeError(got[j] ?? new Float32Array(), want[j] ?? new Float32Array())).toBeLessThan(1e-4);
    } finally {
      removeNativeKernels(backend);
    }
  });

  it('compute RMSNorm and each of its gradients like the composed formula', () => {
    const eps = 1e-5;
    const composed = (x: tf.Tensor, w: tf.Tensor) => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), x.rank - 1, true), eps))), w);
    const run = (norm: (x: tf.Tensor, w: tf.Tensor) => tf.Tensor) =>
      tf.tidy(() => {
        const x = randomTensor([3, 5, 16], 45).mul(3).add(0.5);
        const w = randomTensor([16], 46);
        const weights = randomTensor([3, 5, 16], 47);
        const loss = (a: tf.Tensor, c: tf.Tensor) => norm(a, c).mul(weights).sum();
        const all = tf.grads(loss)([x, w]);
        const onlyX = tf.grad((a: tf.Tensor) => loss(a, w))(x); // w's gradient never asked for
        return [norm(x, w), ...all, onlyX].map((t) => t.dataSync() as Float32Array);
      });
    const want = run(composed);
    expect(fusedRmsNorm(tf.zeros([2, 16]), tf.ones([16]), eps)).toBeUndefined(); // without the native kernels: the caller's version
    expect(applyNativeKernels(2, backend).ok).toBe(true);
    try {
      const got = run((x, w) => fusedRmsNorm(x, w, eps) ?? tf.scalar(Number.NaN));
      expect(got.length).toBe(4);
      for (let j = 0; j < want.length; j++) expect(maxRelativeError(got[j] ?? new Float32Array(), want[j] ?? new Float32Array())).toBeLessThan(1e-4);
    } finally {
      removeNativeKernels(backend);
    }
  });

  it('compute per-row cross-entropy and its gradient like logSoftmax and a one-hot product', () => {
    const [rows, vocab] = [7, 301];
    const targets = Int32Array.from({ length: rows }, (_, r) => (r * 97 + 5) % vocab);
    const run = () =>
      tf.tidy(() => {
        // Logits far from 0 (and one row of ties) check the max shift that keeps e^x finite.
        const logits = randomTensor([rows, vocab], 51).mul(30).add(tf.tensor2d([[500], [0], [-500], [0], [0], [0], [0]]));
        const x = tf.concat([logits.slice([0, 0], [rows - 1, vocab]), tf.fill([1, vocab], 3)]) as tf.Tensor2D;
        const t = tf.tensor1d(targets, 'int32');
        const weights = randomTensor([rows], 52);
        const loss = (a: tf.Tensor) => crossEntropyRows(a as tf.Tensor2D, t).mul(weights).sum();
        return [crossEntropyRows(x, t), tf.grad(loss)(x)].map((v) => v.dataSync() as Float32Array);
      });
    const want = run(); // without the native kernels: the composed ops
    expect(applyNativeKernels(2, backend).ok).toBe(true);
    try {
      const got = run();
      for (let j = 0; j < want.length; j++) expect(maxRelativeError(got[j] ?? new Float32Array(), want[j] ?? new Float32Array())).toBeLessThan(1e-4);
      expect(got[0]?.[rows - 1]).toBeCloseTo(Math.log(vocab), 4); // equal logits: log of the vocabulary
      expect(() => tf.tidy(() => crossEntropyRows(tf.zeros([2, 3]), tf.tensor1d([0, 3], 'int32')).dataSync())).toThrow(/indices < v/);
    } finally {
      removeNativeKernels(backend);
    }
  });

  it('reject mismatched inner sizes as tfjs does', () => {
    expect(applyNativeKernels(2, backend).ok).toBe(true);
    try {
      expect(() => tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2])))).toThrow(/inner shapes/);
    } finally {
      removeNativeKernels(backend);
    }
  });

  it.runIf(backend === 'native')('are recorded in the native backend info', async () => {
    const info = await initBackend({ backend: 'native', threads: 2, log: () => {} });
    expect(info.name).toBe('native');
    expect(nativeKernelsApplied()).toBe(true); // on the active backend, as discovery's memory estimate asks
    expect(info.kernelFixes).toEqual(expect.arrayContaining(['native-matmul', 'native-optimizers', 'copy-slices']));
    expect(info.kernelFixes).not.toContain('transposed-matmul-grad');
    expect(info.nativeKernels?.config).toMatch(/\S/);
  });

  it.runIf(backend === 'wasm')('are recorded in the backend info, and the matmul workarounds step aside', async () => {
    const info = await initBackend({ backend: 'wasm', threads: 2, log: () => {} });
    expect(info.kernelFixes).toContain('native-matmul');
    expect(info.kernelFixes).not.toContain('transposed-matmul-grad');
    expect(info.kernelFixes).not.toContain('split-batch-matmul');
    expect(info.nativeKernels?.config).toMatch(/\S/);
    const off = await initBackend({ backend: 'wasm', threads: 2, nativeKernels: false, log: () => {} });
    expect(off.kernelFixes).not.toContain('native-matmul');
    expect(off.kernelFixes).toContain('transposed-matmul-grad');
  });
});
