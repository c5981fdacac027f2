import { RuntimeError } from '@circuit-tuning/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, shutdownBackend } from './select';
import { tf } from './tf';

// This file's process has no usable BLAS library: the runtime must say so once and compute on wasm.
process.env.CT_BLAS_LIBRARY = '/nonexistent/libopenblas-missing.so.0';

describe('without a BLAS library', () => {
  afterAll(() => shutdownBackend());

  it('says once why the native kernels are not used, and runs the wasm kernels with their fixes', async () => {
    const lines: string[] = [];
    const info = await initBackend({ backend: 'wasm', threads: 2, log: (line) => lines.push(line) });
    await initBackend({ backend: 'wasm', threads: 2, log: (line) => lines.push(line) });
    const notes = lines.filter((line) => line.startsWith('native matmul: not used'));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/libopenblas-missing|not built/);
    expect(info.name).toBe('wasm');
    expect(info.nativeKernels).toBeUndefined();
    expect(info.kernelFixes).not.toContain('native-matmul');
    expect(info.kernelFixes).toEqual(expect.arrayContaining(['transposed-matmul-grad', 'split-batch-matmul']));
    // auto skips the native backend quietly; asked for by name it says why and how to get it.
    expect((await initBackend({ threads: 2, log: (line) => lines.push(line) })).name).toBe('wasm');
    expect(lines.filter((line) => line.startsWith('native matmul: not used'))).toHaveLength(1);
    const explicit = await initBackend({ backend: 'native', log: () => {} }).catch((e: unknown) => e);
    expect(explicit).toBeInstanceOf(RuntimeError);
    expect((explicit as RuntimeError).message).toMatch(/backend native is not available: .*(libopenblas-missing|not built)/);
    expect((explicit as RuntimeError).hint).toMatch(/libopenblas/);
    const product = tf.tidy(() => Array.from(tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([1, 0, 0, 1], [2, 2]), false, true).dataSync()));
    expect(product).toEqual([1, 2, 3, 4]);
  });
});
