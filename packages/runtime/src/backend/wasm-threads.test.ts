import fs from 'node:fs';
import os from 'node:os';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initBackend, shutdownBackend } from './select';
import { tf } from './tf';
import { THREADS_FAULT_ENV } from './wasm';
import { wasmPackage } from './wasm-package';

const quiet = () => {};
const twoCores = os.availableParallelism() >= 2;

/** A deterministic 256×256 product, read back to JS. */
function product(): Float32Array {
  return tf.tidy(() => {
    const a = tf.tensor2d(Float32Array.from({ length: 256 * 256 }, (_, i) => Math.sin(i * 0.013)), [256, 256]);
    const b = tf.tensor2d(Float32Array.from({ length: 256 * 256 }, (_, i) => Math.cos(i * 0.029)), [256, 256]);
    return tf.matMul(a, b).dataSync() as Float32Array;
  });
}

/** This process's loader directories (other test processes start threaded backends meanwhile). */
function loaderDirs(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith(`ct-wasm-threads-${process.pid}-`));
}

// Each test starts wasm afresh (initBackend reuses a running backend with the same threads).
beforeEach(async () => {
  await shutdownBackend();
});

afterEach(() => {
  delete process.env[THREADS_FAULT_ENV];
});

// The threaded backend's workers keep Node alive until it is removed.
afterAll(async () => {
  await shutdownBackend();
});

describe('wasm threads loader', () => {
  it.skipIf(!twoCores)('starts 2 XNNPACK threads whose matmul equals the 1-thread result', async () => {
    const single = await initBackend({ backend: 'wasm', threads: 1, log: quiet });
    expect(single.threads).toBe(1);
    const want = product();

    const before = new Set(loaderDirs());
    const info = await initBackend({ backend: 'wasm', threads: 2, log: quiet });
    expect(info).toMatchObject({ name: 'wasm', threads: 2, simd: true });
    expect(info.fallbackReason).toBeUndefined();
    expect(info.kernelFixes).toContain('threads-loader');
    expect(wasmPackage().pkg.getThreadsCount()).toBe(2);
    // The loader put Blob, URL.createObjectURL and os.cpus back.
    expect(globalThis.Blob.name).toBe('Blob');
    expect(os.cpus()).toHaveLength(os.availableParallelism());

    const got = product();
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs((got[i] ?? 0) - (want[i] ?? 0)));
    expect(worst).toBeLessThan(1e-3);

    // The worker scripts are deleted as soon as the backend is up.
    expect(loaderDirs().filter((d) => !before.has(d))).toEqual([]);
  });

  it('falls back to one thread, with the reason, when the threaded binary cannot start', async () => {
    process.env[THREADS_FAULT_ENV] = 'no-loader';
    const lines: string[] = [];
    const info = await initBackend({ backend: 'wasm', threads: 2, log: (l) => lines.push(l) });
    expect(info).toMatchObject({ name: 'wasm', threads: 1, simd: true });
    expect(info.fallbackReason).toMatch(/threaded wasm failed to start: .*worker script.*blob:/);
    expect(info.kernelFixes).not.toContain('threads-loader');
    expect(lines[0]).toMatch(/1 thread.*; fallback: threaded wasm failed to start/);
    expect(wasmPackage().pkg.getThreadsCount()).toBe(1);
    // The single-threaded backend computes.
    const sum = tf.tidy(() => tf.sum(tf.matMul(tf.ones([3, 4]), tf.ones([4, 5]))).dataSync()[0]);
    expect(sum).toBe(60);
  });

  it.skipIf(!twoCores)('falls back to one thread when the started backend fails its check', async () => {
    process.env[THREADS_FAULT_ENV] = 'verify';
    const info = await initBackend({ backend: 'wasm', threads: 2, log: quiet });
    expect(info.threads).toBe(1);
    expect(info.fallbackReason).toBe('threads check failed (fault injected)');
    expect(wasmPackage().pkg.getThreadsCount()).toBe(1);
  });
});
