import { describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../src/index';

/**
 * The addon against a plain loop. CI installs OpenBLAS and builds the addon, and sets
 * CT_REQUIRE_NATIVE=1 so that a broken build fails there instead of being skipped.
 */

const loaded = loadNativeAddon({ threads: 2 });
const required = process.env.CT_REQUIRE_NATIVE === '1' || process.env.CT_REQUIRE_NATIVE_BLAS === '1';

function reference(a: Float32Array, b: Float32Array, m: number, n: number, k: number, ta: boolean, tb: boolean): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += (a[ta ? p * m + i : i * k + p] ?? 0) * (b[tb ? j * k + p : p * n + j] ?? 0);
      c[i * n + j] = sum;
    }
  }
  return c;
}

function random(length: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

describe.skipIf(!loaded.ok && !required)('native gemm', () => {
  const blas = () => {
    if (!loaded.ok) throw new Error(`${loaded.reason}; ${loaded.hint}`);
    return loaded.addon;
  };

  it('opens a BLAS library and says which', () => {
    expect(blas().library).toMatch(/blas/);
    expect(blas().threads).toBeGreaterThanOrEqual(1);
    // Built with OpenMP here (CI too): the addon's own loops get the same threads as BLAS.
    expect(blas().loopThreads).toBe(blas().threads);
  });

  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('multiplies with transposeA=%s transposeB=%s, batched, at offsets, with a broadcast operand', (ta, tb) => {
    const [m, n, k, batch] = [7, 5, 9, 3];
    // One shared array, as on the wasm heap: A matrices at 10, one B at 500 for all, C at 800.
    const heap = random(2000, 42);
    const aAt = (i: number) => 10 + i * m * k;
    blas().gemm({
      a: heap, b: heap, c: heap, batch, m, n, k, transposeA: ta, transposeB: tb,
      aOffset: 10, aStride: m * k, bOffset: 500, bStride: 0, cOffset: 800, cStride: m * n,
    });
    const b = heap.slice(500, 500 + k * n);
    for (let i = 0; i < batch; i++) {
      const want = reference(heap.slice(aAt(i), aAt(i) + m * k), b, m, n, k, ta, tb);
      const got = heap.slice(800 + i * m * n, 800 + (i + 1) * m * n);
      for (let j = 0; j < want.length; j++) expect(got[j]).toBeCloseTo(want[j] ?? Number.NaN, 4);
    }
  });

  it('zeroes the product when k = 0', () => {
    const c = new Float32Array(6).fill(7);
    blas().gemm({ a: new Float32Array(0), b: new Float32Array(0), c, batch: 1, m: 2, n: 3, k: 0, transposeA: false, transposeB: false });
    expect(Array.from(c)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('refuses ranges that run past an array, before computing anything', () => {
    const c = new Float32Array(4).fill(3);
    expect(() =>
      blas().gemm({ a: new Float32Array(4), b: new Float32Array(3), c, batch: 1, m: 2, n: 2, k: 2, transposeA: false, transposeB: false }),
    ).toThrow(/runs past its array/);
    expect(() =>
      blas().gemm({ a: new Float32Array(8), b: new Float32Array(4), c, batch: 2, m: 2, n: 2, k: 2, transposeA: false, transposeB: false, aStride: 4, cStride: 4 }),
    ).toThrow(/runs past its array/);
    expect(Array.from(c)).toEqual([3, 3, 3, 3]);
  });

  it('refuses operands that are not Float32Arrays and dims that are not integers', () => {
    const f = new Float32Array(4);
    expect(() =>
      blas().gemm({ a: new Float64Array(4) as unknown as Float32Array, b: f, c: f, batch: 1, m: 2, n: 2, k: 2, transposeA: false, transposeB: false }),
    ).toThrow(/Float32Arrays/);
    expect(() => blas().gemm({ a: f, b: f, c: f, batch: 1, m: 1.5, n: 2, k: 2, transposeA: false, transposeB: false })).toThrow(/integers/);
  });
});

describe.skipIf(!loaded.ok && !required)('native sum and Adam step', () => {
  const native = () => {
    if (!loaded.ok) throw new Error(`${loaded.reason}; ${loaded.hint}`);
    return loaded.addon;
  };

  it('sums over rows and over columns', () => {
    const x = random(6 * 4, 9);
    const columns = new Float32Array(4);
    const rows = new Float32Array(6);
    native().sum(x, columns, 6, 4, true);
    native().sum(x, rows, 6, 4, false);
    for (let c = 0; c < 4; c++) expect(columns[c]).toBeCloseTo([0, 1, 2, 3, 4, 5].reduce((s, r) => s + (x[r * 4 + c] ?? 0), 0), 5);
    for (let r = 0; r < 6; r++) expect(rows[r]).toBeCloseTo([0, 1, 2, 3].reduce((s, c) => s + (x[r * 4 + c] ?? 0), 0), 5);
    expect(() => native().sum(x, new Float32Array(3), 6, 4, true)).toThrow(/shorter/);
  });

  it('gives the same results on one thread and split across two, past the size that splits', () => {
    // Each call below is large enough for the addon to split it across its threads (packages/native
    // native/parallel.c: 4M element operations), so this compares the split loops with one thread.
    const n = 300_000;
    const x = random(n, 11).map((v) => v * 6);
    const dy = random(n, 12);
    const [rows, vocab] = [700, 3001];
    const logits = random(rows * vocab, 13).map((v) => v * 20);
    const targets = Int32Array.from({ length: rows }, (_, r) => (r * 7919) % vocab);
    const [normRows, d] = [4096, 256];
    const normX = random(normRows * d, 14);
    const normDy = random(normRows * d, 15);
    const w = random(d, 16);
    const [batch, size] = [16, 64];
    const a = random(batch * size * size, 17);
    const b = random(batch * size * size, 18);
    const run = (threads: number) => {
      const reload = loadNativeAddon({ threads });
      if (!reload.ok) throw new Error(reload.reason);
      const k = reload.addon;
      const gelu = new Float32Array(n);
      const geluGrad = new Float32Array(n);
      k.geluTanh(x, gelu);
      k.geluTanhGrad(x, dy, geluGrad);
      const loss = new Float32Array(rows);
      const lossGrad = new Float32Array(rows * vocab);
      k.crossEntropy(logits, targets, loss, rows, vocab);
      k.crossEntropyGrad(logits, targets, loss, new Float32Array(rows).fill(1), lossGrad, rows, vocab);
      const norm = new Float32Array(normRows * d);
      const [dx, dw, db] = [new Float32Array(normRows * d), new Float32Array(d), new Float32Array(d)];
      k.layerNorm(normX, w, new Float32Array(d), norm, normRows, d, 1e-5);
      k.layerNormGrad(normX, w, normDy, dx, dw, db, normRows, d, 1e-5);
      const columns = new Float32Array(d);
      k.sum(normX, columns, normRows, d, true);
      const c = new Float32Array(batch * size * size);
      k.gemm({ a, b, c, m: size, n: size, k: size, transposeA: false, transposeB: true, batch, aStride: size * size, bStride: size * size, cStride: size * size });
      const out = { param: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n), t: new Float32Array(n) };
      k.adamStep({ param: x, grad: dy, m: new Float32Array(n), v: new Float32Array(n), t: new Float32Array(n), out, learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1, decoupled: true });
      return { exact: { gelu, geluGrad, loss, lossGrad, norm, dx, columns, c, param: out.param, m: out.m }, summed: { dw, db } };
    };
    const one = run(1);
    const two = run(2);
    // Entries computed on their own are bit-identical; dw and db add per-thread partial sums.
    for (const [name, values] of Object.entries(one.exact)) {
      const other = two.exact[name as keyof typeof one.exact];
      expect(other.length, name).toBe(values.length);
      expect(values.findIndex((v, i) => !Object.is(v, other[i])), `${name}: first entry that differs`).toBe(-1);
    }
    for (const [name, values] of Object.entries(one.summed)) {
      const other = two.summed[name as keyof typeof one.summed];
      for (let j = 0; j < values.length; j++) expect(other[j] ?? Number.NaN, name).toBeCloseTo(values[j] ?? 0, 2);
    }
    // And against plain formulas: gelu_new with Math.tanh, cross-entropy in float64.
    for (let i = 0; i < n; i += 997) {
      const xi = x[i] ?? 0;
      const want = 0.5 * xi * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (xi + 0.044715 * xi ** 3)));
      expect(Math.abs((one.exact.gelu[i] ?? Number.NaN) - want)).toBeLessThan(2e-6 * Math.max(1, Math.abs(want)));
    }
    for (let r = 0; r < rows; r += 37) {
      const row = Array.from(logits.subarray(r * vocab, (r + 1) * vocab));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      expect(one.exact.loss[r] ?? Number.NaN).toBeCloseTo(lse - (row[targets[r] ?? 0] ?? 0), 3);
    }
    loadNativeAddon({ threads: 2 });
  });

  it('takes an Adam step that leaves masked entries exactly as they were', () => {
    const n = 8;
    const param = random(n, 1);
    const grad = random(n, 2);
    const [m, v, t] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    const mask = Float32Array.from({ length: n }, (_, i) => i % 2);
    const out = { param: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n), t: new Float32Array(n) };
    native().adamStep({ param, grad, m, v, t, mask, out, learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: true });
    for (let i = 0; i < n; i++) {
      if (i % 2 === 0) {
        expect([out.param[i], out.m[i], out.v[i], out.t[i]]).toEqual([param[i], 0, 0, 0]);
      } else {
        // The first step of Adam moves by lr · sign(g).
        expect(out.param[i]).toBeCloseTo((param[i] ?? 0) - 0.1 * Math.sign(grad[i] ?? 0), 5);
        expect(out.t[i]).toBe(1);
      }
    }
    expect(() => native().adamStep({ param, grad: new Float32Array(3), m, v, t, out, learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: true })).toThrow(/differ in length/);
  });

  it('takes an SGD step with a mask per row or per column of a [3, 4] matrix, masked entries exactly as they were', () => {
    const [rows, cols] = [3, 4];
    const n = rows * cols;
    const param = random(n, 3);
    const grad = random(n, 4);
    const velocity = random(n, 5);
    for (const [along, values, free] of [
      ['rows', Float32Array.of(0, 1, 0), (i: number) => Math.floor(i / cols) === 1],
      ['columns', Float32Array.of(1, 0, 0, 1), (i: number) => i % cols === 0 || i % cols === 3],
    ] as const) {
      const out = { param: new Float32Array(n), velocity: new Float32Array(n) };
      native().sgdStep({ param, grad, velocity, mask: { values, along, cols }, out, learningRate: 0.5, momentum: 0.9, weightDecay: 0 });
      for (let i = 0; i < n; i++) {
        if (!free(i)) {
          expect([out.param[i], out.velocity[i]]).toEqual([param[i], velocity[i]]);
        } else {
          // The masked form of sgd.ts, rounded to float32 after every operation: v + m·(v′ − v).
          const updated = Math.fround(Math.fround(velocity[i]! * Math.fround(0.9)) + grad[i]!);
          const v = Math.fround(velocity[i]! + Math.fround(updated - velocity[i]!));
          expect(out.velocity[i]).toBe(v);
          expect(out.param[i]).toBe(Math.fround(param[i]! - Math.fround(v * 0.5)));
        }
      }
    }
    const out = { param: new Float32Array(n), velocity: new Float32Array(n) };
    expect(() =>
      native().sgdStep({ param, grad, velocity, mask: { values: new Float32Array(2), along: 'rows', cols }, out, learningRate: 0.1, momentum: 0.9, weightDecay: 0 }),
    ).toThrow(/the mask 0, n, n \/ cols or cols entries/);
  });
});

describe('loading', () => {
  it('says why when the BLAS library cannot be opened', async () => {
    const { spawnSync } = await import('node:child_process');
    // A fresh process: the library is opened once per process.
    const script = `import { loadNativeAddon } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).pathname)};
      const r = loadNativeAddon({ threads: 1 }); console.log(JSON.stringify(r.ok ? { ok: true } : r));`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, CT_BLAS_LIBRARY: '/nonexistent/libnothing.so' },
    });
    const result = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { ok: boolean; reason?: string; hint?: string };
    expect(result.ok).toBe(false);
    if (loaded.ok || required) expect(result.reason).toMatch(/libnothing\.so/);
    expect(result.hint).toMatch(/libopenblas0-pthread|native build/);
  });

  it('is off when CT_NATIVE=off, or its former name CT_NATIVE_BLAS=off', () => {
    for (const name of ['CT_NATIVE', 'CT_NATIVE_BLAS']) {
      const previous = process.env[name];
      process.env[name] = 'off';
      try {
        const result = loadNativeAddon({ threads: 1 });
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.reason).toBe(`${name}=off`);
      } finally {
        if (previous === undefined) delete process.env[name];
        else process.env[name] = previous;
      }
    }
  });
});
