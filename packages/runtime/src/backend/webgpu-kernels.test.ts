import type { NamedAttrMap, NamedTensorMap } from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fusedGeluTanh } from '../ops/activation';
import { type AdamStepSettings, fusedAdamStep } from '../ops/adam';
import { maskedSoftmax, softmaxBackward } from '../ops/attention';
import { crossEntropyRows } from '../ops/loss';
import { fusedSgdStep } from '../ops/sgd';
import { fusedLayerNorm, fusedRmsNorm } from '../ops/norm';
import {
  ADAM_STEP_KERNEL,
  CROSS_ENTROPY_GRAD_KERNEL,
  CROSS_ENTROPY_KERNEL,
  GELU_TANH_GRAD_KERNEL,
  GELU_TANH_KERNEL,
  LAYER_NORM_GRAD_KERNEL,
  LAYER_NORM_KERNEL,
  MASKED_SOFTMAX_KERNEL,
  SGD_STEP_KERNEL,
  SOFTMAX_GRAD_KERNEL,
} from './native-kernels';
import { initBackend, shutdownBackend } from './select';
import { tf } from './tf';
import { WEBGPU_ALLOW_SOFTWARE_ENV, WEBGPU_DAWN_FLAGS_ENV } from './webgpu';
import { applyWebgpuKernels, webgpuKernelFixes } from './webgpu-kernels';

/**
 * The WGSL kernels (webgpu-kernels.ts, webgpu/) against references on random inputs, on whatever
 * adapter Dawn offers; here that is Mesa's software renderer through OpenGL ES, so the shapes are
 * small and odd (sizes not a multiple of a workgroup, widths not a multiple of 4). The suite skips
 * when webgpu cannot start, unless CT_REQUIRE_WEBGPU=1 (CI), where that fails.
 */

process.env[WEBGPU_ALLOW_SOFTWARE_ENV] ??= '1';
process.env[WEBGPU_DAWN_FLAGS_ENV] ??= 'backend=opengles';
const required = process.env.CT_REQUIRE_WEBGPU === '1';

async function start(): Promise<string | undefined> {
  try {
    const info = await initBackend({ backend: 'webgpu', log: () => {} });
    return info.name === 'webgpu' ? undefined : `initBackend gave ${info.name}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const unavailable = await start();

afterAll(async () => {
  await shutdownBackend();
});

describe.runIf(unavailable !== undefined && required)('webgpu (CT_REQUIRE_WEBGPU=1)', () => {
  it('starts', () => {
    expect(unavailable).toBeUndefined();
  });
});

/** A seeded generator, so that a failure repeats. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function values(n: number, seed: number, scale = 1, offset = -0.5): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length: n }, () => (next() + offset) * scale);
}

/** Every entry within atol + rtol·|expected|; a failure names the worst entry and how many are off. */
function expectClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-6): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  let at = -1;
  let off = 0;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs((actual[i] ?? Number.NaN) - (expected[i] ?? 0)) - (atol + rtol * Math.abs(expected[i] ?? 0));
    if (!(excess <= 0)) off++;
    if (!(excess <= worst)) {
      worst = excess;
      at = i;
    }
  }
  expect(at < 0 ? 'ok' : `${what}: ${off} entries off, the worst ${at}: ${actual[at]} vs ${expected[at]}`).toBe('ok');
}

/** One Adam step's settings and the parameter's size. */
type AdamCase = AdamStepSettings & { size: number };

/** adam.c's step in double precision, with float32 betas as the kernels take them. */
function adamReference(
  s: AdamCase,
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  t: Float32Array,
  mask?: Float32Array,
): { p: number[]; m: number[]; v: number[]; t: number[] } {
  const b1 = Math.fround(s.beta1);
  const b2 = Math.fround(s.beta2);
  const out = { p: [] as number[], m: [] as number[], v: [] as number[], t: [] as number[] };
  const shared = mask === undefined && t.length === 1 && p.length !== 1;
  for (let i = 0; i < p.length; i++) {
    const free = mask?.[i] ?? 1;
    let gi = g[i] ?? 0;
    const pi = p[i] ?? 0;
    if (s.weightDecay > 0 && !s.decoupled) gi += pi * s.weightDecay;
    let newM = (m[i] ?? 0) * b1 + gi * (1 - b1);
    let newV = (v[i] ?? 0) * b2 + gi * gi * (1 - b2);
    newM = (m[i] ?? 0) + free * (newM - (m[i] ?? 0));
    newV = (v[i] ?? 0) + free * (newV - (v[i] ?? 0));
    const count = shared ? (t[0] ?? 0) + 1 : (t[i] ?? 0) + free;
    const safe = Math.max(count, 1);
    let step = newM / (1 - b1 ** safe) / (Math.sqrt(newV / (1 - b2 ** safe)) + s.epsilon);
    if (s.weightDecay > 0 && s.decoupled) step += pi * s.weightDecay;
    step *= free;
    out.p.push(pi - step * s.learningRate);
    out.m.push(newM);
    out.v.push(newV);
    if (!shared) out.t.push(count);
  }
  if (shared) out.t.push((t[0] ?? 0) + 1);
  return out;
}

/** norm.c's LayerNorm (centred) or RMSNorm and their gradients, in double precision. */
function normReference(x: Float32Array, w: Float32Array, b: Float32Array | undefined, dy: Float32Array, d: number, eps: number) {
  const rows = x.length / d;
  const y: number[] = [];
  const dx: number[] = [];
  const dw = new Array<number>(d).fill(0);
  const db = new Array<number>(d).fill(0);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * d, (r + 1) * d));
    const mean = b === undefined ? 0 : row.reduce((a, c) => a + c, 0) / d;
    const rstd = 1 / Math.sqrt(row.reduce((a, c) => a + (c - mean) ** 2, 0) / d + eps);
    const xhat = row.map((c) => (c - mean) * rstd);
    const g = xhat.map((_, j) => (dy[r * d + j] ?? 0) * (w[j] ?? 0));
    const gMean = b === undefined ? 0 : g.reduce((a, c) => a + c, 0) / d;
    const gxMean = g.reduce((a, c, j) => a + c * (xhat[j] ?? 0), 0) / d;
    xhat.forEach((h, j) => {
      y.push(h * (w[j] ?? 0) + (b?.[j] ?? 0));
      dx.push(((g[j] ?? 0) - gMean - h * gxMean) * rstd);
      dw[j] = (dw[j] ?? 0) + (dy[r * d + j] ?? 0) * h;
      db[j] = (db[j] ?? 0) + (dy[r * d + j] ?? 0);
    });
  }
  return { y, dx, dw, db };
}

describe.skipIf(unavailable !== undefined)(`webgpu kernels${unavailable === undefined ? '' : ` (skipped: webgpu did not start: ${unavailable})`}`, () => {
  describe(ADAM_STEP_KERNEL, () => {
    const base: AdamCase = { size: 999, learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false };

    async function step(s: AdamCase, opts: { mask?: boolean; sharedCount?: boolean; holdParam?: boolean }, seed: number) {
      const shape = [27, s.size / 27];
      const p = values(s.size, seed);
      const g = values(s.size, seed + 1, 0.1);
      const m = values(s.size, seed + 2, 0.01);
      const v = values(s.size, seed + 3, 1e-4, 0);
      const t = opts.sharedCount ? Float32Array.of(3) : Float32Array.from(values(s.size, seed + 4, 4, 0), Math.floor);
      const mask = opts.mask ? Float32Array.from(values(s.size, seed + 5, 1, 0), (x) => (x < 0.5 ? 0 : 1)) : undefined;
      const param = tf.tensor(p, shape);
      const held = opts.holdParam ? tf.clone(param) : undefined;
      const inputs = {
        param,
        grad: tf.tensor(g, shape),
        m: tf.tensor(m, shape),
        v: tf.tensor(v, shape),
        t: opts.sharedCount ? tf.scalar(3) : tf.tensor(t, shape),
        ...(mask === undefined ? {} : { mask: tf.tensor(mask, shape) }),
      };
      const { learningRate, beta1, beta2, epsilon, weightDecay, decoupled } = s;
      const out = fusedAdamStep(inputs, { learningRate, beta1, beta2, epsilon, weightDecay, decoupled });
      if (out === undefined) throw new Error(`${ADAM_STEP_KERNEL} is not registered on webgpu`);
      const got = { p: await out.param.data(), m: await out.m.data(), v: await out.v.data(), t: await out.t.data(), held: await held?.data() };
      expect(out.t.shape).toEqual(inputs.t.shape);
      tf.dispose([...Object.values(inputs), held, out.param, out.m, out.v, out.t]);
      return { got, want: adamReference(s, p, g, m, v, t, mask), p, m, v, t, mask };
    }

    it('matches adam.c per entry with L2 decay (999 entries: not a multiple of the workgroup)', async () => {
      const { got, want } = await step({ ...base, weightDecay: 0.01 }, {}, 1);
      expectClose('p', got.p, want.p);
      expectClose('m', got.m, want.m);
      expectClose('v', got.v, want.v);
      expectClose('t', got.t, want.t, 0, 0);
    });

    it('matches with decoupled decay and a mask; frozen entries keep their bits', async () => {
      const { got, want, p, m, v, t, mask } = await step({ ...base, weightDecay: 0.1, decoupled: true }, { mask: true }, 11);
      expectClose('p', got.p, want.p);
      expectClose('m', got.m, want.m);
      expectClose('v', got.v, want.v);
      expectClose('t', got.t, want.t, 0, 0);
      let frozen = 0;
      for (let i = 0; i < p.length; i++) {
        if (mask?.[i] !== 0) continue;
        frozen++;
        for (const [name, before, after] of [['p', p, got.p], ['m', m, got.m], ['v', v, got.v], ['t', t, got.t]] as const) {
          if (!Object.is(before[i], after[i])) throw new Error(`frozen entry ${i}: ${name} ${before[i]} became ${after[i]}`);
        }
      }
      expect(frozen).toBeGreaterThan(300);
    });

    it('advances one shared count without a mask', async () => {
      const { got, want } = await step(base, { sharedCount: true }, 21);
      expectClose('p', got.p, want.p);
      expectClose('t', got.t, [4], 0, 0);
    });

    it('leaves a parameter that something else holds untouched (the step then runs on a copy)', async () => {
      const { got, want, p } = await step(base, { holdParam: true }, 31);
      expectClose('p', got.p, want.p);
      expect(got.held).toEqual(p);
    });

    it('is one kernel per parameter', async () => {
      const inputs = { param: tf.ones([5, 3]), grad: tf.ones([5, 3]), m: tf.zeros([5, 3]), v: tf.zeros([5, 3]), t: tf.scalar(0) };
      const { size: _, ...settings } = base;
      const profile = await tf.profile(() => {
        const out = tf.engine().runKernel(ADAM_STEP_KERNEL, inputs as unknown as NamedTensorMap, settings as unknown as NamedAttrMap) as tf.Tensor[];
        tf.dispose(out);
      });
      expect(profile.kernels.map((k) => k.name)).toEqual([ADAM_STEP_KERNEL]);
      tf.dispose(Object.values(inputs));
    });
  });

  describe(SGD_STEP_KERNEL, () => {
    const [rows, cols] = [37, 29];
    const size = rows * cols;
    // A mask per entry, per row ([rows, 1]) and per column ([1, cols]), as circuit-tuning builds them.
    const maskShapes = { entries: [rows, cols], rows: [rows, 1], columns: [1, cols] } as const;
    for (const [along, momentum, weightDecay] of [
      [undefined, 0.9, 1e-4],
      [undefined, 0, 0],
      ['entries', 0.9, 1e-4],
      ['rows', 0.9, 0],
      ['columns', 0, 1e-4],
    ] as const) {
      it(`matches sgd.c with momentum ${momentum}, decay ${weightDecay}${along === undefined ? '' : `, a mask per ${along}; frozen entries keep their bits`}`, async () => {
        const p = values(size, 111);
        const g = values(size, 112, 0.1);
        const v = values(size, 113, 0.01);
        const maskShape = along === undefined ? undefined : maskShapes[along];
        const mask = maskShape && Float32Array.from(values(maskShape[0] * maskShape[1], 114, 1, 0), (u) => (u < 0.5 ? 0 : 1));
        const free = (i: number) => (along === undefined ? 1 : (mask?.[along === 'rows' ? Math.floor(i / cols) : along === 'columns' ? i % cols : i] ?? 1));
        const want = { p: [] as number[], v: [] as number[] };
        for (let i = 0; i < size; i++) {
          const gi = (g[i] ?? 0) + (p[i] ?? 0) * weightDecay;
          let step = gi;
          if (momentum > 0) {
            const newV = (v[i] ?? 0) + free(i) * ((v[i] ?? 0) * momentum + gi - (v[i] ?? 0));
            want.v.push(newV);
            step = newV;
          }
          want.p.push((p[i] ?? 0) - step * free(i) * 0.01);
        }
        const inputs = {
          param: tf.tensor(p, [rows, cols]),
          grad: tf.tensor(g, [rows, cols]),
          ...(momentum > 0 ? { velocity: tf.tensor(v, [rows, cols]) } : {}),
          ...(mask === undefined || maskShape === undefined ? {} : { mask: tf.tensor(mask, [...maskShape]) }),
        };
        const out = fusedSgdStep(inputs, { learningRate: 0.01, momentum, weightDecay });
        if (out === undefined) throw new Error(`${SGD_STEP_KERNEL} is not registered on webgpu`);
        const got = { p: await out.param.data(), v: await out.velocity?.data() };
        expectClose('p', got.p, want.p);
        if (momentum > 0) expectClose('v', got.v ?? [], want.v);
        for (let i = 0; i < size; i++) {
          if (free(i) !== 0) continue;
          if (!Object.is(got.p[i], p[i]) || (momentum > 0 && !Object.is(got.v?.[i], v[i]))) throw new Error(`frozen entry ${i} changed`);
        }
        tf.dispose([...Object.values(inputs), out.param, out.velocity]);
      });
    }
  });

  describe(`${LAYER_NORM_KERNEL}, ${LAYER_NORM_GRAD_KERNEL} and RMSNorm`, () => {
    const eps = 1e-5;
    // 21 rows of 37 (a narrow workgroup, a width not a multiple of 4), 5 rows of 600 (the wide
    // one), 600 rows of 37 (the weight gradients summed in three chunks of rows).
    for (const [shape, seed] of [
      [[3, 7, 37], 41],
      [[5, 600], 51],
      [[2, 300, 37], 57],
    ] as const) {
      const d = shape[shape.length - 1] ?? 0;
      const size = shape.reduce((a, c) => a * c, 1);
      const x = values(size, seed, 4, -0.3);
      const w = values(d, seed + 1, 2, -0.2);
      const b = values(d, seed + 2);
      const dy = values(size, seed + 3);

      it(`LayerNorm and its three gradients match norm.c over [${shape}]`, async () => {
        const want = normReference(x, w, b, dy, d, eps);
        const [xt, wt, bt, dyt] = [tf.tensor(x, [...shape]), tf.tensor(w), tf.tensor(b), tf.tensor(dy, [...shape])];
        const f = (xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor) => {
          const y = fusedLayerNorm(xs, ws, bs, eps);
          if (y === undefined) throw new Error(`${LAYER_NORM_KERNEL} is not registered on webgpu`);
          return y;
        };
        const y = f(xt, wt, bt);
        const [dx, dw, db] = tf.grads(f)([xt, wt, bt], dyt) as [tf.Tensor, tf.Tensor, tf.Tensor];
        expectClose('y', await y.data(), want.y, 1e-5, 1e-5);
        expectClose('dx', await dx.data(), want.dx, 1e-5, 1e-5);
        expectClose('dw', await dw.data(), want.dw, 1e-5, 1e-5);
        expectClose('db', await db.data(), want.db, 1e-5, 1e-5);
        tf.dispose([xt, wt, bt, dyt, y, dx, dw, db]);
      });

      it(`RMSNorm and its two gradients match norm.c over [${shape}]`, async () => {
        const want = normReference(x, w, undefined, dy, d, eps);
        const [xt, wt, dyt] = [tf.tensor(x, [...shape]), tf.tensor(w), tf.tensor(dy, [...shape])];
        const f = (xs: tf.Tensor, ws: tf.Tensor) => {
          const y = fusedRmsNorm(xs, ws, eps);
          if (y === undefined) throw new Error('RMSNorm is not registered on webgpu');
          return y;
        };
        const y = f(xt, wt);
        const [dx, dw] = tf.grads(f)([xt, wt], dyt) as [tf.Tensor, tf.Tensor];
        expectClose('y', await y.data(), want.y, 1e-5, 1e-5);
        expectClose('dx', await dx.data(), want.dx, 1e-5, 1e-5);
        expectClose('dw', await dw.data(), want.dw, 1e-5, 1e-5);
        tf.dispose([xt, wt, dyt, y, dx, dw]);
      });
    }

    it('gives zero weight gradients for no rows', async () => {
      const x = tf.zeros([0, 5]);
      const [dx, dw, db] = tf.engine().runKernel(LAYER_NORM_GRAD_KERNEL, { x, w: tf.ones([5]), dy: x } as unknown as NamedTensorMap, { eps } as unknown as NamedAttrMap) as tf.Tensor[];
      expect(dx?.shape).toEqual([0, 5]);
      expect(Array.from(await (dw as tf.Tensor).data())).toEqual([0, 0, 0, 0, 0]);
      expect(Array.from(await (db as tf.Tensor).data())).toEqual([0, 0, 0, 0, 0]);
    });
  });

  describe(`${GELU_TANH_KERNEL} and ${GELU_TANH_GRAD_KERNEL}`, () => {
    it('match activation.c with its gradient (1001 entries, saturating inputs included)', async () => {
      const x = values(1001, 61, 12);
      x[0] = 60;
      x[1] = -60;
      const dy = values(1001, 62);
      const c = Math.sqrt(2 / Math.PI);
      const want = { y: [] as number[], dx: [] as number[] };
      x.forEach((xi, i) => {
        const t = Math.tanh(c * (xi + 0.044715 * xi ** 3));
        want.y.push(0.5 * xi * (1 + t));
        want.dx.push((dy[i] ?? 0) * (0.5 * (1 + t) + 0.5 * xi * (1 - t * t) * c * (1 + 3 * 0.044715 * xi * xi)));
      });
      const [xt, dyt] = [tf.tensor(x, [7, 143]), tf.tensor(dy, [7, 143])];
      const f = (xs: tf.Tensor) => {
        const y = fusedGeluTanh(xs);
        if (y === undefined) throw new Error(`${GELU_TANH_KERNEL} is not registered on webgpu`);
        return y;
      };
      const y = f(xt);
      const [dx] = tf.grads(f)([xt], dyt) as [tf.Tensor];
      expectClose('y', await y.data(), want.y, 1e-5, 1e-6);
      expectClose('dx', await dx.data(), want.dx, 1e-5, 1e-6);
      tf.dispose([xt, dyt, y, dx]);
    });
  });

  describe(`${MASKED_SOFTMAX_KERNEL} and ${SOFTMAX_GRAD_KERNEL}`, () => {
    // [2, 3, 5, 37] under a [5, 37] mask (a narrow workgroup), [4, 600] under a [2, 600] one (the wide one).
    for (const [shape, maskRows, seed] of [
      [[2, 3, 5, 37], 5, 71],
      [[4, 600], 2, 81],
    ] as const) {
      it(`match softmax.c over [${shape}] with a mask of ${maskRows} rows`, async () => {
        const width = shape[shape.length - 1] ?? 0;
        const size = shape.reduce((a, c) => a * c, 1);
        const scale = 0.37;
        const x = values(size, seed, 10);
        const mask = Float32Array.from(values(maskRows * width, seed + 1), (u) => (u < -0.3 ? -1e9 : u));
        const dp = values(size, seed + 2);
        const want = { p: [] as number[], ds: [] as number[] };
        for (let r = 0; r < size / width; r++) {
          const z = Array.from({ length: width }, (_, j) => (x[r * width + j] ?? 0) * scale + (mask[(r % maskRows) * width + j] ?? 0));
          const top = Math.max(...z);
          const e = z.map((zj) => Math.exp(zj - top));
          const total = e.reduce((a, c) => a + c, 0);
          const p = e.map((ej) => ej / total);
          // The gradient from the kernel's own p, as attention's backward passes it.
          want.p.push(...p);
        }
        const [xt, mt] = [tf.tensor(x, [...shape]), tf.tensor(mask, [maskRows, width])];
        const p = maskedSoftmax(xt, mt, scale);
        const pv = await p.data();
        for (let r = 0; r < size / width; r++) {
          let dot = 0;
          for (let j = 0; j < width; j++) dot += (dp[r * width + j] ?? 0) * (pv[r * width + j] ?? 0);
          for (let j = 0; j < width; j++) want.ds.push((pv[r * width + j] ?? 0) * ((dp[r * width + j] ?? 0) - dot) * scale);
        }
        const dpt = tf.tensor(dp, [...shape]);
        const profile = await tf.profile(() => tf.dispose(softmaxBackward(p, dpt, scale)));
        expect(profile.kernels.map((k) => k.name)).toEqual([SOFTMAX_GRAD_KERNEL]);
        const ds = softmaxBackward(p, dpt, scale);
        expectClose('p', pv, want.p, 1e-5, 1e-7);
        expectClose('ds', await ds.data(), want.ds, 1e-5, 1e-7);
        tf.dispose([xt, mt, p, dpt, ds]);
      });
    }
    it('reaches every row past one dispatch dimension (70 000 rows: workgroups continue along y)', async () => {
      const [rows, width] = [70_000, 3];
      const x = values(rows * width, 121, 6);
      const [xt, mask] = [tf.tensor(x, [rows, width]), tf.zeros([1, width])];
      const p = maskedSoftmax(xt, mask, 1);
      const got = await p.data();
      const want: number[] = [];
      for (let r = 0; r < rows; r++) {
        const e = [0, 1, 2].map((j) => Math.exp(x[r * width + j] ?? 0));
        const total = e.reduce((a, c) => a + c, 0);
        want.push(...e.map((ej) => ej / total));
      }
      expectClose('p', got, want, 1e-5, 1e-7);
      tf.dispose([xt, mask, p]);
    });
  });

  describe(`${CROSS_ENTROPY_KERNEL} and ${CROSS_ENTROPY_GRAD_KERNEL}`, () => {
    for (const [rows, vocab, seed] of [
      [13, 37, 91],
      [6, 1001, 101],
    ] as const) {
      it(`match loss.c with its gradient over [${rows}, ${vocab}] logits, with no other [rows, vocab] tensor`, async () => {
        const x = values(rows * vocab, seed, 20);
        const targets = Int32Array.from(values(rows, seed + 1, vocab, 0), Math.floor);
        const dy = values(rows, seed + 2);
        const want = { loss: [] as number[], dx: [] as number[] };
        for (let r = 0; r < rows; r++) {
          const row = Array.from(x.subarray(r * vocab, (r + 1) * vocab));
          const top = Math.max(...row);
          const lse = Math.log(row.reduce((a, c) => a + Math.exp(c - top), 0)) + top;
          const target = targets[r] ?? 0;
          want.loss.push(lse - (row[target] ?? 0));
          for (const [j, c] of row.entries()) want.dx.push((Math.exp(c - lse) - (j === target ? 1 : 0)) * (dy[r] ?? 0));
        }
        const [xt, tt, dyt] = [tf.tensor2d(x, [rows, vocab]), tf.tensor1d(targets, 'int32'), tf.tensor1d(dy)];
        const loss = crossEntropyRows(xt, tt);
        let dx: tf.Tensor | undefined;
        const profile = await tf.profile(() => {
          dx = tf.grad((logits: tf.Tensor) => crossEntropyRows(logits as tf.Tensor2D, tt))(xt, dyt);
        });
        // The tape's clones (Identity shares the data on webgpu) aside, the two kernels alone.
        expect(profile.kernels.map((k) => k.name).filter((name) => name !== 'Identity')).toEqual([CROSS_ENTROPY_KERNEL, CROSS_ENTROPY_GRAD_KERNEL]);
        expectClose('loss', await loss.data(), want.loss, 1e-5, 1e-5);
        expectClose('dx', await (dx as tf.Tensor).data(), want.dx, 1e-5, 1e-7);
        tf.dispose([xt, tt, dyt, loss, dx]);
      });
    }

    it('gives NaN for a target outside the vocabulary', async () => {
      const loss = crossEntropyRows(tf.zeros([2, 5]) as tf.Tensor2D, tf.tensor1d([1, 5], 'int32'));
      const got = Array.from(await loss.data());
      expect(got[0]).toBeCloseTo(Math.log(5), 5);
      expect(got[1]).toBeNaN();
    });
  });

  describe('BatchMatMul in 64 × 64 tiles (CT_WEBGPU_MATMUL=tiled)', () => {
    const shaders: string[] = [];
    let restore: (() => void) | undefined;
    beforeAll(() => {
      applyWebgpuKernels({ tiledMatmul: true });
      const device = (tf.backend() as unknown as { device: { createShaderModule: (d: { code: string }) => unknown } }).device;
      const create = device.createShaderModule.bind(device);
      device.createShaderModule = (descriptor) => {
        shaders.push(descriptor.code);
        return create(descriptor);
      };
      restore = () => {
        device.createShaderModule = create;
      };
    });
    afterAll(() => {
      restore?.();
      applyWebgpuKernels({ tiledMatmul: false });
      expect(webgpuKernelFixes()).not.toContain('webgpu-matmul');
    });

    it('is listed among the applied fixes while it is on', () => {
      expect(webgpuKernelFixes()).toEqual(['webgpu-addn', 'webgpu-optimizers', 'webgpu-layernorm', 'webgpu-gelu', 'webgpu-softmax', 'webgpu-cross-entropy', 'webgpu-matmul']);
    });

    /** op(a)·op(b) per batch entry in double precision; a batch of 1 repeats. */
    function product(a: Float32Array, b: Float32Array, batch: number, m: number, k: number, n: number, tA: boolean, tB: boolean, batchA: number, batchB: number) {
      const out: number[] = [];
      for (let e = 0; e < batch; e++) {
        const ao = batchA === 1 ? 0 : e * m * k;
        const bo = batchB === 1 ? 0 : e * k * n;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let sum = 0;
            for (let q = 0; q < k; q++) sum += (a[ao + (tA ? q * m + i : i * k + q)] ?? 0) * (b[bo + (tB ? j * k + q : q * n + j)] ?? 0);
            out.push(sum);
          }
        }
      }
      return out;
    }

    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`matches the product over partial tiles (70 × 67 · 67 × 130), transposeA ${tA}, transposeB ${tB}`, async () => {
        const [m, k, n] = [70, 67, 130];
        const a = values(m * k, 131);
        const b = values(k * n, 132);
        const at = tf.tensor(a, tA ? [k, m] : [m, k]);
        const bt = tf.tensor(b, tB ? [n, k] : [k, n]);
        const before = shaders.length;
        const c = tf.matMul(at, bt, tA, tB);
        expect(c.shape).toEqual([m, n]);
        expectClose('c', await c.data(), product(a, b, 1, m, k, n, tA, tB, 1, 1), 1e-5, 1e-5);
        expect(shaders.slice(before).some((code) => code.includes('var<workgroup> aTile'))).toBe(true);
        tf.dispose([at, bt, c]);
      });
    }

    it('takes a batch of matrices against one matrix, and batches on both sides', async () => {
      const a = values(3 * 65 * 80, 141);
      const b = values(80 * 66, 142);
      const [at, bt] = [tf.tensor(a, [3, 65, 80]), tf.tensor(b, [80, 66])];
      const c = tf.matMul(at, bt);
      expect(c.shape).toEqual([3, 65, 66]);
      expectClose('c', await c.data(), product(a, b, 3, 65, 80, 66, false, false, 3, 1), 1e-5, 1e-5);
      const a2 = values(2 * 2 * 64 * 64, 143);
      const b2 = values(2 * 2 * 96 * 64, 144);
      const [a2t, b2t] = [tf.tensor(a2, [2, 2, 64, 64]), tf.tensor(b2, [2, 2, 96, 64])];
      const c2 = tf.matMul(a2t, b2t, false, true);
      expect(c2.shape).toEqual([2, 2, 64, 96]);
      expectClose('c2', await c2.data(), product(a2, b2, 4, 64, 64, 96, false, true, 4, 4), 1e-5, 1e-5);
      tf.dispose([at, bt, c, a2t, b2t, c2]);
    });
  });
});
