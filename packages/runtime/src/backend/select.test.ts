import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, RuntimeError } from '@circuit-tuning/contracts';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { applyNativeKernels } from './native-kernels';
import { backendInfo, ensureBackend, initBackend, shutdownBackend } from './select';
import { tf } from './tf';
import { gpuDevicePresent } from './webgpu';

const quiet = () => {};

// The choice reads these; a developer's shell must not steer the tests.
function clearEnv(): void {
  delete process.env.CT_BACKEND;
  delete process.env.CT_WASM_THREADS;
}
beforeEach(clearEnv);
afterEach(clearEnv);

afterAll(async () => {
  await shutdownBackend();
});

describe('initBackend', () => {
  it('starts an explicitly requested backend and reports it', async () => {
    const lines: string[] = [];
    const info = await initBackend({ backend: 'cpu', log: (l) => lines.push(l) });
    expect(info).toMatchObject({ name: 'cpu', requested: 'cpu', threads: 1, simd: false });
    expect(info.tfjsVersion).toBe(tf.version_core);
    expect(tf.getBackend()).toBe('cpu');
    expect(lines).toEqual([expect.stringMatching(/^backend: cpu \(tfjs 4\.22\.0, 1 thread, fixes: /)]);
  });

  it('chooses wasm on auto here (the native packages are not installed) and logs one line', async () => {
    const lines: string[] = [];
    // Without the native matmul kernels (native-kernels.test.ts covers them), every wasm fix is on.
    const info = await initBackend({ threads: 1, nativeKernels: false, log: (l) => lines.push(l) });
    expect(info).toMatchObject({ name: 'wasm', requested: 'auto', threads: 1, simd: true });
    expect(info.kernelFixes).toEqual(
      expect.arrayContaining(['slice-view', 'scatter-embedding-grad', 'transposed-matmul-grad', 'split-batch-matmul']),
    );
    expect(info.fallbackReason).toBeUndefined();
    expect(tf.getBackend()).toBe('wasm');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(info))).toEqual(info);
  });

  it('reads CT_BACKEND and CT_WASM_THREADS when no option is given', async () => {
    process.env.CT_BACKEND = 'wasm';
    process.env.CT_WASM_THREADS = '1';
    const info = await initBackend({ log: quiet });
    expect(info).toMatchObject({ name: 'wasm', requested: 'wasm', threads: 1 });
    process.env.CT_BACKEND = 'nope';
    await expect(initBackend({ log: quiet })).rejects.toThrow(ConfigError);
  });

  it.skipIf(!applyNativeKernels(1, 'native').ok)('chooses native on auto where the addon and OpenBLAS load, and records it', async () => {
    const lines: string[] = [];
    const info = await initBackend({ threads: 1, log: (l) => lines.push(l) });
    expect(info).toMatchObject({ name: 'native', requested: 'auto', threads: 1, simd: false });
    expect(info.nativeKernels?.threads).toBe(1);
    expect(info.kernelFixes).toEqual(expect.arrayContaining(['copy-slices', 'native-matmul', 'scatter-embedding-grad']));
    expect(tf.getBackend()).toBe('native');
    expect(lines).toEqual([expect.stringMatching(/^backend: native \(tfjs 4\.22\.0, 1 thread, native matmul: .*fixes: copy-slices, scatter-rows, broadcast-binary, native-matmul/)]);
    // wasm and cpu still start when asked for.
    expect((await initBackend({ backend: 'wasm', threads: 1, log: quiet })).nativeKernels).toBeDefined();
    expect((await initBackend({ backend: 'cpu', log: quiet })).kernelFixes).not.toContain('native-matmul');
  });

  it('throws a RuntimeError with the install command for an explicit backend that is missing', async () => {
    for (const backend of ['tensorflow-gpu', 'tensorflow'] as const) {
      const error = await initBackend({ backend, log: quiet }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as RuntimeError).message).toMatch(/is not installed/);
      expect((error as RuntimeError).hint).toMatch(/pnpm add /);
    }
  });
});

describe('webgpu', () => {
  const REQUIRE_WEBGPU = process.env.CT_REQUIRE_WEBGPU === '1';
  let allowSoftware: string | undefined;
  beforeEach(() => {
    allowSoftware = process.env.CT_WEBGPU_ALLOW_SOFTWARE;
    delete process.env.CT_WEBGPU_ALLOW_SOFTWARE;
  });
  afterEach(() => {
    if (allowSoftware === undefined) delete process.env.CT_WEBGPU_ALLOW_SOFTWARE;
    else process.env.CT_WEBGPU_ALLOW_SOFTWARE = allowSoftware;
  });

  it('is tried by auto only where the machine shows a GPU device (NVIDIA, AMD, a DRM render node)', () => {
    const dev = fs.mkdtempSync(path.join(os.tmpdir(), 'ct-dev-'));
    expect(gpuDevicePresent('linux', dev)).toBe(false);
    fs.mkdirSync(path.join(dev, 'dri'));
    fs.writeFileSync(path.join(dev, 'dri', 'card0'), '');
    expect(gpuDevicePresent('linux', dev)).toBe(false);
    fs.writeFileSync(path.join(dev, 'dri', 'renderD128'), '');
    expect(gpuDevicePresent('linux', dev)).toBe(true);
    fs.rmSync(path.join(dev, 'dri'), { recursive: true });
    fs.writeFileSync(path.join(dev, 'nvidia0'), '');
    expect(gpuDevicePresent('linux', dev)).toBe(true);
    expect(gpuDevicePresent('darwin', path.join(dev, 'none'))).toBe(true);
    fs.rmSync(dev, { recursive: true });
  });

  it.skipIf(gpuDevicePresent())('on a machine without a GPU: auto does not try it, and a request says what Dawn tried', async () => {
    const lines: string[] = [];
    expect((await initBackend({ threads: 1, log: (l) => lines.push(l) })).name).not.toBe('webgpu');
    expect(lines.join('\n')).not.toMatch(/webgpu/);
    const error = await initBackend({ backend: 'webgpu', log: quiet }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).message).toMatch(/backend webgpu is not available: (Dawn found no WebGPU adapter \(tried Dawn's default\)|the only WebGPU adapter is a software renderer)/);
    expect((error as RuntimeError).hint).toMatch(/CT_WEBGPU_ALLOW_SOFTWARE=1/);
  });

  it('runs on a software renderer when allowed, and records the adapter', async (ctx) => {
    process.env.CT_WEBGPU_ALLOW_SOFTWARE = '1';
    const lines: string[] = [];
    const started = await initBackend({ backend: 'webgpu', log: (l) => lines.push(l) }).catch((e: unknown) => e);
    if (started instanceof Error) {
      if (REQUIRE_WEBGPU) throw started;
      ctx.skip(`webgpu cannot start here: ${started.message}`);
    }
    const info = started as Awaited<ReturnType<typeof initBackend>>;
    expect(info.adapter?.name).toBeTruthy();
    if (!gpuDevicePresent()) expect(info.adapter).toMatchObject({ software: true });
    expect(info.kernelFixes).toContain('webgpu-addn');
    expect(lines).toEqual([expect.stringMatching(/^backend: webgpu \(tfjs 4\.22\.0, 1 thread, adapter: .+, fixes: webgpu-addn/)]);
    // AddN over more inputs than a shader may bind (webgpu-addn).
    const parts = Array.from({ length: 37 }, (_, i) => tf.fill([3], i + 1));
    expect(Array.from(await tf.addN(parts).data())).toEqual([703, 703, 703]);
    tf.dispose(parts);
  });

  it('makes a read throw, naming the error, when the adapter rejected the computation it waits for', async (ctx) => {
    process.env.CT_WEBGPU_ALLOW_SOFTWARE = '1';
    const started = await initBackend({ backend: 'webgpu', log: quiet }).catch((e: unknown) => e);
    if (started instanceof Error) {
      if (REQUIRE_WEBGPU) throw started;
      ctx.skip(`webgpu cannot start here: ${started.message}`);
    }
    const limit = (tf.backend() as unknown as { device: { limits: { maxStorageBufferBindingSize: number } } }).device.limits.maxStorageBufferBindingSize;
    if (limit > 256 * 2 ** 20) ctx.skip(`this adapter binds ${limit} bytes: a tensor over it would be too large for a test`);
    // One float more than a buffer binding may hold: Dawn rejects the bind group, and the stock
    // kernel's output would read back as zeros.
    const big = tf.ones([limit / 4 + 1]);
    const sum = tf.add(big, 1);
    const error = await sum.data().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).message).toMatch(/WebGPU rejected a computation.*larger than the maximum storage buffer binding size/);
    expect((error as RuntimeError).hint).toMatch(/--backend native/);
    tf.dispose([big, sum]);
    // The backend goes on computing what it can.
    expect(Array.from(await tf.add(tf.ones([2]), 1).data())).toEqual([2, 2]);
  });
});

describe('a native package that is installed but broken', () => {
  // Optional backends are also looked up from the working directory: fake one there.
  function fakePackages(sources: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ct-fake-backends-'));
    for (const [name, source] of Object.entries(sources)) {
      const pkg = path.join(dir, 'node_modules', name);
      fs.mkdirSync(pkg, { recursive: true });
      fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name, version: '4.22.0', main: 'index.js' }));
      fs.writeFileSync(path.join(pkg, 'index.js'), source);
    }
    vi.spyOn(process, 'cwd').mockReturnValue(dir);
    return dir;
  }

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is reported with its reason, and auto falls back to wasm', async () => {
    const dir = fakePackages({
      '@tensorflow/tfjs-node-gpu': "throw new Error('The Node.js native addon module (tfjs_binding.node) can not be found');",
      '@tensorflow/tfjs-node': 'module.exports = {};',
    });
    try {
      const lines: string[] = [];
      // Without the native kernels, so that auto's last step is wasm (next test: native).
      const info = await initBackend({ threads: 1, nativeKernels: false, log: (l) => lines.push(l) });
      expect(info.name).toBe('wasm');
      expect(lines[0]).toMatch(/^backend: tensorflow-gpu failed to load \(.*native addon module.*\); install it with: pnpm add @tensorflow\/tfjs-node-gpu@4\.22\.0/);
      expect(lines[1]).toMatch(/^backend: tensorflow failed to load \(.*registered no 'tensorflow' backend/);
      expect(lines[2]).toMatch(/^backend: wasm .*; fallback: tensorflow-gpu: .*; tensorflow: /);
      expect(info.fallbackReason).toMatch(/^tensorflow-gpu: .*native addon.*; tensorflow: /);

      const explicit = await initBackend({ backend: 'tensorflow-gpu', log: quiet }).catch((e: unknown) => e);
      expect(explicit).toBeInstanceOf(RuntimeError);
      expect((explicit as RuntimeError).message).toMatch(/native addon module/);
      expect((explicit as RuntimeError).hint).toMatch(/tfjs-node-gpu@4\.22\.0/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('backendInfo / ensureBackend / shutdownBackend', () => {
  it('backendInfo throws until a backend is initialised', async () => {
    await shutdownBackend();
    expect(() => backendInfo()).toThrow(RuntimeError);
  });

  it('ensureBackend initialises once, even when called concurrently', async () => {
    await shutdownBackend();
    process.env.CT_WASM_THREADS = '1';
    const stderr = process.stderr.write;
    const lines: string[] = [];
    process.stderr.write = ((chunk: string) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const [a, b] = await Promise.all([ensureBackend(), ensureBackend()]);
      const c = await ensureBackend();
      expect(a).toEqual(b);
      expect(c).toEqual(a);
    } finally {
      process.stderr.write = stderr;
    }
    expect(lines.filter((l) => l.startsWith('backend: '))).toHaveLength(1);
    expect(backendInfo().name).toBe(applyNativeKernels(1, 'native').ok ? 'native' : 'wasm'); // what auto picks here
  });

  it('shutdownBackend removes wasm and keeps the process error listeners', async () => {
    const listener = () => {};
    process.on('uncaughtException', listener);
    try {
      await initBackend({ backend: 'wasm', threads: 1, log: quiet });
      const before = process.listeners('uncaughtException');
      await shutdownBackend();
      expect(process.listeners('uncaughtException')).toEqual(before);
      expect(tf.findBackendFactory('wasm')).toBeNull();
      expect(() => backendInfo()).toThrow(RuntimeError);
    } finally {
      process.removeListener('uncaughtException', listener);
    }
  });
});
