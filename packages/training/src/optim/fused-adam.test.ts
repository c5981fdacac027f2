import { initBackend, shutdownBackend, tf } from '@circuit-tuning/runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { adam } from './index';

/**
 * The runtime's fused native Adam step (wasm with the native addon) against this package's tf-ops
 * Adam, which defines the semantics: same values, moments and counts after steps with and
 * without a mask, for Adam with L2 decay and for AdamW.
 */

afterAll(() => shutdownBackend());

const requireNative = process.env.CT_REQUIRE_NATIVE === '1' || process.env.CT_REQUIRE_NATIVE_BLAS === '1';

async function history(native: boolean, decoupled: boolean): Promise<number[][]> {
  const info = await initBackend({ backend: 'wasm', threads: 2, nativeKernels: native, log: () => {} });
  if (native && !info.kernelFixes.includes('native-optimizers')) return [];
  const optimizer = adam({ beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.05, decoupled });
  // 1,100 entries: the kernel's first 512-entry block keeps one step count under the mask (all 1
  // there), the others mix counts; the variable is the only reference, so native steps run in place.
  const variable = tf.tidy(() => tf.variable(tf.randomNormal([100, 11], 0, 1, 'float32', 3)));
  const mask = tf.tidy(() => tf.concat([tf.ones([50, 11]), tf.randomUniform([50, 11], 0, 1, 'float32', 4).greater(0.5).toFloat()]));
  const out: number[][] = [];
  for (let step = 0; step < 6; step++) {
    const grad = tf.randomNormal([100, 11], 0, 1, 'float32', 10 + step);
    // Steps 2–4 are masked: some entries' counts fall behind the others'.
    optimizer.apply([{ name: 'w', variable, grad, ...(step >= 2 && step <= 4 ? { mask } : {}) }], 0.01);
    grad.dispose();
  }
  out.push(Array.from(variable.dataSync()));
  for (const [, tensor] of optimizer.state()) out.push(Array.from(tensor.dataSync()));
  tf.dispose([variable, mask]);
  optimizer.dispose();
  return out;
}

describe('fused native Adam', () => {
  it('steps in place when the optimizer holds the only references, and never under a snapshot', async () => {
    const info = await initBackend({ backend: 'wasm', threads: 2, nativeKernels: true, log: () => {} });
    if (!info.kernelFixes.includes('native-optimizers')) {
      expect(requireNative, 'CT_REQUIRE_NATIVE=1 but the native kernels did not load').toBe(false);
      return;
    }
    const optimizer = adam({ beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0, decoupled: true });
    const variable = tf.tidy(() => tf.variable(tf.randomNormal([300], 0, 1, 'float32', 5)));
    const grad = tf.randomNormal([300], 0, 1, 'float32', 6);
    optimizer.apply([{ name: 'w', variable, grad }], 0.1); // creates the moments and counts
    const sole = variable.dataId;
    optimizer.apply([{ name: 'w', variable, grad }], 0.1);
    expect(variable.dataId).toBe(sole); // written in place
    const snapshot = tf.clone(variable);
    const before = Array.from(snapshot.dataSync());
    optimizer.apply([{ name: 'w', variable, grad }], 0.1);
    expect(variable.dataId).not.toBe(snapshot.dataId); // out of place: the snapshot keeps its values
    expect(Array.from(snapshot.dataSync())).toEqual(before);
    expect(Array.from(variable.dataSync())).not.toEqual(before);
    tf.dispose([variable, grad, snapshot]);
    optimizer.dispose();
  });

  for (const decoupled of [false, true]) {
    it(`${decoupled ? 'AdamW' : 'Adam with L2 decay'}: equals the tf-ops step, masked entries included`, async () => {
      const want = await history(false, decoupled);
      const got = await history(true, decoupled);
      if (got.length === 0) {
        expect(requireNative, 'CT_REQUIRE_NATIVE=1 but the native kernels did not load').toBe(false);
        return;
      }
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) {
        const w = want[i] ?? [];
        const g = got[i] ?? [];
        expect(g.length).toBe(w.length);
        for (let j = 0; j < w.length; j++) expect(Math.abs((g[j] ?? Number.NaN) - (w[j] ?? 0))).toBeLessThan(1e-5 * Math.max(1, Math.abs(w[j] ?? 0)));
      }
    });
  }
});
