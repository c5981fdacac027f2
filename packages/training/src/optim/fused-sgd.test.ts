import { initBackend, shutdownBackend, tf } from '@circuit-tuning/runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { sgd } from './index';

/**
 * The runtime's fused native SGD step against this package's tf-ops SGD, which defines the
 * semantics: the same values and momentum buffers, bit for bit (the kernel keeps the tf ops'
 * order and float32 rounding), with and without momentum and weight decay, under no mask, a mask
 * per entry, and the compact masks circuit-tuning builds (one value per row or per column).
 */

afterAll(() => shutdownBackend());

const requireNative = process.env.CT_REQUIRE_NATIVE === '1' || process.env.CT_REQUIRE_NATIVE_BLAS === '1';

type MaskKind = 'none' | 'entries' | 'rows' | 'columns';

function maskOf(kind: MaskKind): tf.Tensor | undefined {
  return tf.tidy(() => {
    const bits = (shape: number[], seed: number) => tf.randomUniform(shape, 0, 1, 'float32', seed).greater(0.5).toFloat();
    if (kind === 'entries') return bits([40, 33], 4);
    if (kind === 'rows') return bits([40, 1], 5);
    if (kind === 'columns') return bits([1, 33], 6);
    return undefined;
  });
}

async function history(native: boolean, momentum: number, weightDecay: number, kind: MaskKind): Promise<number[][]> {
  const info = await initBackend({ backend: 'wasm', threads: 2, nativeKernels: native, log: () => {} });
  if (native && !info.kernelFixes.includes('native-optimizers')) return [];
  const optimizer = sgd({ momentum, weightDecay });
  const variable = tf.tidy(() => tf.variable(tf.randomNormal([40, 33], 0, 1, 'float32', 3)));
  const mask = maskOf(kind);
  for (let step = 0; step < 5; step++) {
    const grad = tf.randomNormal([40, 33], 0, 1, 'float32', 10 + step);
    // Step 0 is unmasked (every momentum entry starts moving), the rest masked.
    optimizer.apply([{ name: 'w', variable, grad, ...(mask && step > 0 ? { mask } : {}) }], 0.05);
    grad.dispose();
  }
  const out = [Array.from(variable.dataSync())];
  for (const [, tensor] of optimizer.state()) out.push(Array.from(tensor.dataSync()));
  tf.dispose([variable, ...(mask ? [mask] : [])]);
  optimizer.dispose();
  return out;
}

describe('fused native SGD', () => {
  for (const kind of ['none', 'entries', 'rows', 'columns'] as const) {
    for (const [momentum, weightDecay] of [
      [0.9, 1e-4],
      [0.9, 0],
      [0, 1e-4],
    ] as const) {
      it(`equals the tf-ops step bit for bit: mask ${kind}, momentum ${momentum}, weight decay ${weightDecay}`, async () => {
        const want = await history(false, momentum, weightDecay, kind);
        const got = await history(true, momentum, weightDecay, kind);
        if (got.length === 0) {
          expect(requireNative, 'CT_REQUIRE_NATIVE=1 but the native kernels did not load').toBe(false);
          return;
        }
        expect(got.length).toBe(momentum > 0 ? 2 : 1);
        expect(got).toEqual(want);
      });
    }
  }

  it('leaves a frozen row exactly as it was (value and momentum), steps in place, refuses a mask that does not fit', async () => {
    const info = await initBackend({ backend: 'wasm', threads: 2, nativeKernels: true, log: () => {} });
    if (!info.kernelFixes.includes('native-optimizers')) {
      expect(requireNative, 'CT_REQUIRE_NATIVE=1 but the native kernels did not load').toBe(false);
      return;
    }
    const optimizer = sgd({ momentum: 0.9, weightDecay: 0.1 });
    const variable = tf.tidy(() => tf.variable(tf.randomNormal([4, 8], 0, 1, 'float32', 7)));
    const grad = tf.randomNormal([4, 8], 0, 1, 'float32', 8);
    optimizer.apply([{ name: 'w', variable, grad }], 0.1); // every momentum entry non-zero
    const before = { value: variable.arraySync() as number[][], momentum: optimizer.state().get('momentum_buffer/w')!.arraySync() as number[][] };
    const sole = variable.dataId;
    const rows = tf.tensor2d([[0], [1], [0], [1]]);
    optimizer.apply([{ name: 'w', variable, grad: tf.mul(grad, Number.POSITIVE_INFINITY), mask: rows }], 0.1);
    expect(variable.dataId).toBe(sole); // written in place
    const after = { value: variable.arraySync() as number[][], momentum: optimizer.state().get('momentum_buffer/w')!.arraySync() as number[][] };
    for (const r of [0, 2]) {
      expect(after.value[r]).toEqual(before.value[r]);
      expect(after.momentum[r]).toEqual(before.momentum[r]);
    }
    expect(after.value[1]).not.toEqual(before.value[1]);
    const wrong = tf.ones([2, 1]);
    expect(() => optimizer.apply([{ name: 'w', variable, grad, mask: wrong }], 0.1)).toThrow(/\[2,1\] does not fit the parameter \[4,8\]/);
    tf.dispose([variable, grad, rows, wrong]);
    optimizer.dispose();
  });
});
