import { ContractError } from '@circuit-tuning/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, shutdownBackend } from '../backend/select';
import { tf } from '../backend/tf';
import { opFixesFor } from '../backend/fixes';
import { batchMatMul, matMul } from './matmul';

function close(got: tf.Tensor, want: tf.Tensor, tol = 1e-4): void {
  expect(got.shape).toEqual(want.shape);
  const g = got.dataSync();
  const w = want.dataSync();
  let worst = 0;
  for (let i = 0; i < w.length; i++) {
    worst = Math.max(worst, Math.abs((g[i] ?? Number.NaN) - (w[i] ?? 0)) / Math.max(1, Math.abs(w[i] ?? 0)));
  }
  expect(worst).toBeLessThan(tol);
}

/** Value and gradients (w.r.t. both inputs) of sum(f(a, b) ⊙ r), r fixed so every output counts. */
function valueAndGrads(f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, a: tf.Tensor, b: tf.Tensor) {
  return tf.tidy(() => {
    const value = f(a, b);
    const r = tf.randomUniform(value.shape, -1, 1, 'float32', 3);
    const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(x, y), r)))([a, b]);
    return { value, da: da as tf.Tensor, db: db as tf.Tensor };
  });
}

function compare(
  ours: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  stock: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  aShape: number[],
  bShape: number[],
): void {
  const a = tf.randomNormal(aShape, 0, 1, 'float32', 1);
  const b = tf.randomNormal(bShape, 0, 1, 'float32', 2);
  const got = valueAndGrads(ours, a, b);
  const want = valueAndGrads(stock, a, b);
  close(got.value, want.value);
  close(got.da, want.da);
  close(got.db, want.db);
  tf.dispose([a, b, got, want]);
}

afterAll(async () => {
  await shutdownBackend();
});

describe.each(['cpu', 'wasm'] as const)('on %s', (backend) => {
  beforeAll(async () => {
    // The wasm workarounds are what these tests check; native-kernels.test.ts covers the native kernels.
    await initBackend({ backend, threads: 1, nativeKernels: false, log: () => {} });
  });

  it('matMul matches tf.matMul, value and gradients, 2-D and with leading axes', () => {
    compare(matMul as never, (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), [5, 7], [7, 3]);
    const flatStock = (a: tf.Tensor, b: tf.Tensor) =>
      tf.matMul(a.reshape([-1, 7]) as tf.Tensor2D, b as tf.Tensor2D).reshape([...a.shape.slice(0, -1), 3]);
    compare(matMul as never, flatStock, [2, 4, 7], [7, 3]);
    compare(matMul as never, flatStock, [2, 2, 3, 7], [7, 3]);
  });

  it('batchMatMul matches batched tf.matMul with transposeA (attention gradients: Pᵀ·dZ), small and split', () => {
    compare(
      (a, b) => batchMatMul(a, b, false, true),
      (a, b) => tf.matMul(a, b, true, false),
      [4, 6, 5],
      [4, 6, 3],
    );
    compare(
      (a, b) => batchMatMul(a, b, true, true),
      (a, b) => tf.matMul(a, b, true, true),
      [2, 3, 8, 4],
      [2, 3, 5, 8],
    );
    compare(
      (a, b) => batchMatMul(a, b, false, true),
      (a, b) => tf.matMul(a, b, true, false),
      [2, 64, 128],
      [2, 64, 128],
    );
    expect(() => batchMatMul(tf.zeros([2, 3, 4]), tf.zeros([2, 4, 5]), false, true)).toThrow(/inner sizes differ/);
  });

  it('batchMatMul matches batched tf.matMul, with and without transposeB', () => {
    compare(batchMatMul, (a, b) => tf.matMul(a, b), [4, 5, 6], [4, 6, 3]);
    compare(
      (a, b) => batchMatMul(a, b, true),
      (a, b) => tf.matMul(a, b, false, true),
      [4, 5, 6],
      [4, 3, 6],
    );
    // Attention's shapes: [batch, heads, pos, dHead] · [batch, heads, pos, dHead]ᵀ.
    compare(
      (a, b) => batchMatMul(a, b, true),
      (a, b) => tf.matMul(a, b, false, true),
      [2, 3, 8, 4],
      [2, 3, 8, 4],
    );
    compare(batchMatMul, (a, b) => tf.matMul(a, b), [2, 3, 8, 8], [2, 3, 8, 4]);
    // Big enough per product to take the split path on wasm.
    compare(
      (a, b) => batchMatMul(a, b, true),
      (a, b) => tf.matMul(a, b, false, true),
      [2, 128, 64],
      [2, 128, 64],
    );
  });

  it('takes the fast form on this backend (split batch on wasm for big products, explicit transposes in the gradient)', async () => {
    const big = [tf.randomNormal([2, 128, 64]), tf.randomNormal([2, 64, 128])] as const;
    const bigForward = await tf.profile(() => batchMatMul(big[0], big[1]));
    expect(bigForward.kernels.map((k) => k.name).includes('Unpack')).toBe(backend === 'wasm');
    // Small products stay in one batched kernel: per-call cost would dominate.
    const a = tf.randomNormal([4, 5, 6]);
    const b = tf.randomNormal([4, 6, 3]);
    const forward = await tf.profile(() => batchMatMul(a, b));
    expect(forward.kernels.map((k) => k.name)).not.toContain('Unpack');
    tf.dispose([...big, bigForward.result]);
    const backward = await tf.profile(() => tf.grad((x: tf.Tensor) => tf.sum(matMul(x, b.reshape([24, 3]) as tf.Tensor2D)))(a.reshape([5, 24])));
    expect(backward.kernels.map((k) => k.name)).toContain('Transpose');
    tf.dispose([a, b, forward.result, backward.result]);
  });

  it("computes only the gradients asked for (the weight side's transpose and product are skipped)", async () => {
    if (!opFixesFor(tf.getBackend()).has('transposed-matmul-grad')) return;
    const x = tf.randomNormal([5, 24]);
    const w = tf.variable(tf.randomNormal([24, 3]), true);
    const onlyX = await tf.profile(() => tf.grad((t: tf.Tensor) => tf.sum(matMul(t, w as never)))(x));
    const both = await tf.profile(() => tf.variableGrads(() => tf.sum(matMul(x, w as never)) as tf.Scalar, [w]));
    const count = (p: typeof onlyX, name: string) => p.kernels.filter((k) => k.name === name).length;
    expect(count(onlyX, 'Transpose')).toBe(1);
    expect(count(both, 'Transpose')).toBe(1);
    tf.dispose([x, w, onlyX.result, both.result as never]);
  });

  it('rejects mismatched shapes with a ContractError', () => {
    const a = tf.zeros([2, 3]);
    expect(() => matMul(a, tf.zeros([4, 2]) as tf.Tensor2D)).toThrow(ContractError);
    expect(() => batchMatMul(tf.zeros([2, 3, 4]), tf.zeros([3, 4, 5]))).toThrow(/batch axes differ/);
    expect(() => batchMatMul(tf.zeros([2, 3, 4]), tf.zeros([2, 5, 4]))).toThrow(/inner sizes differ/);
    expect(() => batchMatMul(tf.zeros([3, 4]), tf.zeros([4, 5]))).toThrow(/rank/);
  });
});
