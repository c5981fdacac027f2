import type { NamedAttrMap, NamedTensorMap } from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { fusedAdamStep } from '../ops/adam';
import { ADAM_STEP_KERNEL } from './native-kernels';
import { initBackend, shutdownBackend } from './select';
import { tf } from './tf';
import { WEBGPU_ALLOW_SOFTWARE_ENV, WEBGPU_DAWN_FLAGS_ENV } from './webgpu';

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

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs((actual[i] ?? Number.NaN) - (expected[i] ?? 0)) - (atol + rtol * Math.abs(expected[i] ?? 0));
    if (!(excess <= worst)) {
      worst = excess;
      at = i;
    }
  }
  expect(at < 0 ? 'ok' : `entry ${at}: ${actual[at]} vs ${expected[at]}`).toBe('ok');
}

interface AdamCase {
  size: number;
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  decoupled: boolean;
}

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
      expectClose(got.p, want.p);
      expectClose(got.m, want.m);
      expectClose(got.v, want.v);
      expectClose(got.t, want.t, 0, 0);
    });

    it('matches with decoupled decay and a mask; frozen entries keep their bits', async () => {
      const { got, want, p, m, v, t, mask } = await step({ ...base, weightDecay: 0.1, decoupled: true }, { mask: true }, 11);
      expectClose(got.p, want.p);
      expectClose(got.m, want.m);
      expectClose(got.v, want.v);
      expectClose(got.t, want.t, 0, 0);
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
      expectClose(got.p, want.p);
      expectClose(got.t, [4], 0, 0);
    });

    it('leaves a parameter that something else holds untouched (the step then runs on a copy)', async () => {
      const { got, want, p } = await step(base, { holdParam: true }, 31);
      expectClose(got.p, want.p);
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
});
