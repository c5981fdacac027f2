import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fusedAdamStep } from '../ops/adam';
import { applyNativeKernels } from './native-kernels';
import { initBackend, shutdownBackend } from './select';
import { tf } from './tf';
import { applyWasmKernelFixes, copyBox, removeWasmKernelFixes, wasmKernelFixesApplied } from './wasm-kernels';

/** A small seeded generator, so that every run checks the same cases. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

type DType = 'float32' | 'int32' | 'bool';
type Case = { name: string; run: () => tf.Tensor[] };

/** Slices, unstacks, splits, gathers and clones of random tensors, contiguous or not, on every axis. */
function cases(): Case[] {
  const rand = rng(7);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const tensor = (shape: number[], dtype: DType) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, () => (dtype === 'float32' ? rand() * 2 - 1 : int(0, dtype === 'bool' ? 1 : 99)));
    return tf.tensor(values, shape, dtype);
  };
  const out: Case[] = [];
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    for (let c = 0; c < 40; c++) {
      const shape = Array.from({ length: int(1, 5) }, () => int(1, 6));
      const begin = shape.map((d) => int(0, d - 1));
      const size = shape.map((d, i) => (rand() < 0.2 ? -1 : int(1, d - (begin[i] ?? 0))));
      const x = tensor(shape, dtype);
      out.push({ name: `slice ${dtype} [${shape}] at [${begin}] size [${size}]`, run: () => [tf.slice(x, begin, size)] });
      for (let axis = -shape.length; axis < shape.length; axis++) {
        out.push({ name: `unstack ${dtype} [${shape}] axis ${axis}`, run: () => tf.unstack(x, axis) });
      }
      const axis = int(0, shape.length - 1);
      const dim = shape[axis] ?? 1;
      const first = int(0, dim);
      out.push({ name: `split ${dtype} [${shape}] axis ${axis} sizes`, run: () => tf.split(x, [first, -1], axis) });
      out.push({ name: `split ${dtype} [${shape}] axis ${axis} into ${dim}`, run: () => tf.split(x, dim, axis) });
      const ids = tf.tensor(Array.from({ length: int(0, 5) * int(1, 2) }, () => int(0, dim - 1)), undefined, 'int32');
      const idShape = rand() < 0.5 ? ids : ids.reshape(ids.size % 2 === 0 ? [2, ids.size / 2] : [ids.size]);
      out.push({ name: `gather ${dtype} [${shape}] axis ${axis} ids [${idShape.shape}]`, run: () => [tf.gather(x, idShape, axis)] });
      out.push({ name: `clone ${dtype} [${shape}]`, run: () => [tf.clone(x)] });
    }
  }
  const big = tensor([64, 64, 64], 'float32');
  out.push({ name: 'unstack [64,64,64]', run: () => tf.unstack(big) });
  out.push({ name: 'split [64,64,64] axis 1 into 4', run: () => tf.split(big, 4, 1) });
  out.push({ name: 'split [64,64,64] axis 2 sizes', run: () => tf.split(big, [16, 48], 2) });
  out.push({ name: 'slice [64,64,64] inner box', run: () => [tf.slice(big, [0, 2, 5], [7, 9, 11])] });
  const table = tensor([2000, 256], 'float32');
  out.push({ name: 'gather embedding rows', run: () => [tf.gather(table, tf.tensor1d([5, 1999, 0, 5, 17], 'int32'))] });
  return out;
}

/** scatterND with repeated indices (they sum), slices of every rank, float32 and int32. */
function scatterCases(): Case[] {
  const rand = rng(11);
  const out: Case[] = [];
  for (const dtype of ['float32', 'int32'] as const) {
    for (const [shape, sliceRank, count] of [[[50, 8], 1, 30], [[6, 5, 4], 2, 12], [[4, 3], 2, 9], [[7], 1, 20], [[0, 3], 1, 0]] as const) {
      const ids = Array.from({ length: count }, () => Array.from({ length: sliceRank }, (_, j) => Math.floor(rand() * (shape[j] ?? 1))));
      const updateShape = [count, ...shape.slice(sliceRank)];
      const n = updateShape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, () => (dtype === 'float32' ? rand() * 2 - 1 : Math.floor(rand() * 100)));
      out.push({
        name: `scatterND ${dtype} into [${shape}] slice rank ${sliceRank}, ${count} updates`,
        run: () => [tf.scatterND(tf.tensor2d(ids.flat(), [count, sliceRank], 'int32'), tf.tensor(values, updateShape, dtype), [...shape])],
      });
    }
  }
  out.push({ name: 'scatterND embedding-like gradient', run: () => [tf.scatterND(tf.tensor2d([3, 1, 3, 0], [4, 1], 'int32'), tf.ones([4, 16]), [5, 16])] });
  return out;
}

/** Tiles of every rank the tape differentiates (≤ 4) and beyond, with repeats on any axes. */
function tileCases(): Case[] {
  const rand = rng(13);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const out: Case[] = [];
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    for (let c = 0; c < 30; c++) {
      const shape = Array.from({ length: int(1, 5) }, () => int(1, 4));
      const reps = shape.map(() => (rand() < 0.5 ? 1 : int(1, 3)));
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, () => (dtype === 'float32' ? rand() * 2 - 1 : int(0, dtype === 'bool' ? 1 : 99)));
      out.push({ name: `tile ${dtype} [${shape}] by [${reps}]`, run: () => [tf.tile(tf.tensor(values, shape, dtype), reps)] });
    }
  }
  // The grouped-query pattern of the model's forward: [kv heads, 1, d, dHead] by [1, group, 1, 1].
  out.push({ name: 'tile k/v heads over their query heads', run: () => [tf.tile(tf.reshape(tf.range(0, 2 * 3 * 4), [2, 1, 3, 4]), [1, 4, 1, 1])] });
  out.push({ name: 'tile of nothing', run: () => [tf.tile(tf.zeros([0, 3]), [2, 2])] });
  return out;
}

function evaluate(all: Case[]): Map<string, { shape: number[]; values: number[] }[]> {
  const results = new Map<string, { shape: number[]; values: number[] }[]>();
  for (const c of all) {
    const outs = c.run();
    results.set(
      c.name,
      outs.map((t) => ({ shape: t.shape, values: Array.from(t.dataSync() as ArrayLike<number>) })),
    );
    tf.dispose(outs);
  }
  return results;
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1, log: () => {} });
});

afterAll(async () => {
  await shutdownBackend();
});

describe('slice-view, shared-identity and gather-rows kernels', () => {
  it('give the stock kernels’ results for slices, unstacks, splits, gathers and clones', () => {
    const all = cases();
    removeWasmKernelFixes();
    expect(wasmKernelFixesApplied()).toBe(false);
    const stock = evaluate(all);
    applyWasmKernelFixes();
    expect(wasmKernelFixesApplied()).toBe(true);
    const fixed = evaluate(all);
    // These kernels only move data: the results must be identical, not merely close.
    for (const c of all) expect(fixed.get(c.name), c.name).toEqual(stock.get(c.name));
  });

  it('are applied by initBackend, idempotently, and removable', () => {
    const stockless = tf.getKernel('Slice', 'wasm')?.kernelFunc;
    applyWasmKernelFixes();
    expect(tf.getKernel('Slice', 'wasm')?.kernelFunc).toBe(stockless);
    removeWasmKernelFixes();
    expect(tf.getKernel('Slice', 'wasm')?.kernelFunc).not.toBe(stockless);
    applyWasmKernelFixes();
    expect(tf.getKernel('Slice', 'wasm')?.kernelFunc).toBe(stockless);
  });

  it('share a clone’s memory until both tensors are gone, and refuse gathers out of range', () => {
    applyWasmKernelFixes();
    const backend = tf.backend() as unknown as { refCount(dataId: object): number; numDataIds(): number };
    const buffers = backend.numDataIds();
    const x = tf.tensor1d([1, 2, 3]);
    const copy = tf.clone(x);
    expect(copy.dataId).toBe(x.dataId); // one buffer for both
    expect(backend.refCount(x.dataId)).toBe(2);
    x.dispose();
    expect(Array.from(copy.dataSync())).toEqual([1, 2, 3]);
    expect(backend.refCount(copy.dataId)).toBe(1);
    copy.dispose();
    expect(backend.numDataIds()).toBe(buffers);
    const table = tf.zeros([4, 2]);
    expect(() => tf.gather(table, tf.tensor1d([0, 4], 'int32'))).toThrow(/index value 4 is not in \[0, 3\]/);
    expect(() => tf.gather(table, tf.tensor1d([-1], 'int32'))).toThrow(/index value -1/);
    table.dispose();
  });

  it('leave string tensors to the stock kernel', () => {
    const s = tf.tensor(['a', 'b', 'c', 'd'], [2, 2], 'string');
    expect(tf.slice(s, [1, 0], [1, 2]).arraySync()).toEqual([['c', 'd']]);
    expect(tf.unstack(s, 1).map((t) => t.arraySync())).toEqual([
      ['a', 'c'],
      ['b', 'd'],
    ]);
  });
});

describe('copyBox', () => {
  it('copies a box of a row-major array like a naive index loop', () => {
    const shape = [3, 4, 5];
    const src = Float32Array.from({ length: 60 }, (_, i) => i);
    const begin = [1, 1, 2];
    const size = [2, 3, 2];
    const dst = new Float32Array(12);
    copyBox(src, shape, begin, size, dst);
    const want: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) want.push((1 + i) * 20 + (1 + j) * 5 + (2 + k));
    expect(Array.from(dst)).toEqual(want);
  });
});

// The same kernels on the `native` backend (tensors in process memory), against tfjs-backend-cpu's.
describe.skipIf(!applyNativeKernels(1, 'native').ok)('copy-slices kernels on the native backend', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'native', threads: 1, log: () => {} });
  });

  it('give the cpu kernels’ results for slices, unstacks, splits, gathers, clones, scatters and tiles', async () => {
    const all = [...cases(), ...scatterCases(), ...tileCases()];
    await initBackend({ backend: 'cpu', log: () => {} });
    const stock = evaluate(all);
    await initBackend({ backend: 'native', threads: 1, log: () => {} });
    const fixed = evaluate(all);
    for (const c of all) expect(fixed.get(c.name), c.name).toEqual(stock.get(c.name));
  });

  it('copy contiguous slices: an in-place optimizer step does not write through them', () => {
    // tfjs-backend-cpu returns a contiguous slice as a view of its input; the fused Adam step
    // writes a parameter in place when only its variable holds it, which would change the slice.
    const initial = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const param = tf.variable(initial);
    initial.dispose(); // the variable alone holds it: the step runs in place
    const firstRow = tf.slice(param, [0, 0], [1, 2]);
    const rows = tf.unstack(param);
    const zeros = () => tf.zerosLike(param);
    const step = fusedAdamStep(
      { param, grad: tf.onesLike(param), m: zeros(), v: zeros(), t: tf.scalar(0) },
      { learningRate: 1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false },
    );
    expect(step?.param.dataId).toBe(param.dataId); // in place
    expect(Array.from(param.dataSync())).not.toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(firstRow.dataSync())).toEqual([1, 2]);
    expect(Array.from(rows[1]?.dataSync() ?? [])).toEqual([3, 4]);
    tf.dispose([param, firstRow, ...rows, ...(step === undefined ? [] : Object.values(step))]);
  });
});
