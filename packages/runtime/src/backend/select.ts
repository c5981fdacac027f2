import { RuntimeError } from '@circuit-tuning/contracts';
import { activateBackend, backendInstance } from './activate';
import { type KernelFix, NATIVE_KERNEL_FIXES, opFixesFor } from './fixes';
import { type BackendInfo, formatBackendLine, type GpuAdapter } from './info';
import { startNative } from './native';
import { applyNativeKernels, type NativeKernelsInfo, nativeKernelsApplied, removeNativeKernels } from './native-kernels';
import { AUTO_ORDER, type BackendName, type BackendRequest, INSTALL_HINTS, TFJS_BACKEND_NAME } from './names';
import { BackendLoadError, firstLine } from './optional-package';
import { keepingProcessListeners } from './process-listeners';
import { resolveRequest } from './request';
import { tf } from './tf';
import { stopWasm, startWasm } from './wasm';
import { startWebgpu } from './webgpu';
import { webgpuKernelFixes } from './webgpu-kernels';

/**
 * The one place that decides the TensorFlow.js backend of the process.
 */

export interface InitBackendOptions {
  /** A backend, or `auto` (default; after the CT_BACKEND environment variable). */
  backend?: BackendRequest;
  /** XNNPACK threads for wasm (default: CT_WASM_THREADS, else 2; at most the core count). */
  threads?: number;
  /**
   * Whether wasm's matrix products run in OpenBLAS when the native addon and the library are
   * there (default true; CT_NATIVE=off also turns them off). When they cannot load, the log
   * says why once and the wasm kernels run.
   */
  nativeKernels?: boolean;
  /** Where the backend line and load failures go (default: stderr). */
  log?: (line: string) => void;
}

let current: BackendInfo | undefined;
/** The init in flight, if any: ensureBackend joins it instead of starting another. */
let pending: Promise<BackendInfo> | undefined;
/** Inits and shutdowns run one after another, never interleaved. */
let queue: Promise<unknown> = Promise.resolve();

function serialised<T>(task: () => Promise<T>): Promise<T> {
  const run = queue.then(task);
  queue = run.catch(() => undefined);
  return run;
}

/**
 * Chooses, starts and verifies the backend, logs one line about it, and returns what runs.
 *
 * `auto` tries tensorflow-gpu, tensorflow, webgpu (on a machine with a GPU, never a software
 * adapter), native (when the addon and OpenBLAS load), then wasm (cpu as the last resort). A backend that is
 * installed but fails is logged with its reason and install hint, and recorded in
 * `fallbackReason`; one that is not installed is skipped quietly. An explicitly requested
 * backend that cannot start throws RuntimeError with the reason and the install command.
 * Calling it again re-initialises (e.g. to switch backends); tensors of a replaced wasm backend
 * are lost.
 */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const run = serialised(() => doInit(options));
  pending = run;
  const clear = () => {
    if (pending === run) pending = undefined;
  };
  run.then(clear, clear);
  return run;
}

/** The backend in use; throws if initBackend/ensureBackend has not completed. */
export function backendInfo(): BackendInfo {
  if (current === undefined) {
    throw new RuntimeError('the tensor backend is not initialised', {
      hint: 'await initBackend() or ensureBackend() before using tensors',
    });
  }
  return structuredClone(current);
}

/** Initialises with the defaults unless a backend is up (or coming up); safe to call concurrently. */
export function ensureBackend(): Promise<BackendInfo> {
  if (pending !== undefined) return pending;
  if (current !== undefined) return Promise.resolve(structuredClone(current));
  return initBackend();
}

/**
 * Removes the wasm and webgpu backends so that their worker threads and devices let Node exit.
 * Tensors on them are lost. Call at the end of a run and in test teardown.
 */
export function shutdownBackend(): Promise<void> {
  return serialised(async () => {
    current = undefined;
    await stopWasm();
    if (backendInstance('webgpu') !== undefined) {
      await keepingProcessListeners(() => tf.removeBackend('webgpu'));
    }
  });
}

async function doInit(options: InitBackendOptions): Promise<BackendInfo> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const request = resolveRequest(options);
  current = undefined;
  const candidates = request.backend === 'auto' ? AUTO_ORDER : [request.backend];
  const failures: string[] = [];
  for (const name of candidates) {
    let started: Started;
    try {
      started = await start(name, request.threads, options.nativeKernels ?? true, request.backend === 'auto', log);
    } catch (error) {
      const reason = firstLine(error);
      const hint =
        (error instanceof BackendLoadError ? error.hint : undefined) ?? `install it with: ${INSTALL_HINTS[name]}`;
      if (request.backend !== 'auto') {
        throw new RuntimeError(`backend ${name} is not available: ${reason}`, { hint, cause: error });
      }
      if (error instanceof BackendLoadError && error.missing) continue;
      log(`backend: ${name} failed to load (${reason}); ${hint}`);
      failures.push(`${name}: ${reason}`);
      continue;
    }
    const info = toBackendInfo(name, request.backend, started, failures);
    log(formatBackendLine(info, name === 'wasm' || name === 'native' ? request.threadsNote : undefined));
    current = info;
    return structuredClone(info);
  }
  throw new RuntimeError(`no tensor backend could start (${failures.join('; ')})`, {
    hint: `reinstall the runtime's dependencies: ${INSTALL_HINTS.wasm}`,
  });
}

function toBackendInfo(name: BackendName, requested: BackendRequest, started: Started, failures: string[]): BackendInfo {
  const reasons = started.fallbackReason === undefined ? failures : [...failures, started.fallbackReason];
  return {
    name,
    requested,
    tfjsVersion: tf.version_core,
    threads: started.threads,
    simd: started.simd,
    kernelFixes: kernelFixesOf(name, started.threads),
    ...(started.nativeKernels === undefined ? {} : { nativeKernels: started.nativeKernels }),
    ...(started.adapter === undefined ? {} : { adapter: started.adapter }),
    ...(reasons.length === 0 ? {} : { fallbackReason: reasons.join('; ') }),
  };
}

interface Started {
  threads: number;
  adapter?: GpuAdapter;
  simd: boolean;
  fallbackReason?: string;
  nativeKernels?: NativeKernelsInfo;
}

async function start(name: BackendName, threads: number, native: boolean, automatic: boolean, log: (line: string) => void): Promise<Started> {
  switch (name) {
    case 'wasm': {
      const started = await startWasm(threads);
      if (!native) {
        removeNativeKernels();
        return started;
      }
      // BLAS gets as many threads as wasm: the two never compute at the same time.
      const applied = applyNativeKernels(started.threads);
      if (applied.ok) return { ...started, nativeKernels: applied.info };
      removeNativeKernels();
      sayOnce(log, `native matmul: not used (${applied.reason}); ${applied.hint}`);
      return started;
    }
    case 'native': {
      if (!native) throw new BackendLoadError('the native kernels are turned off (nativeKernels: false)', { missing: true });
      // Missing when the addon or OpenBLAS is: `auto` then goes on to wasm, which says why once.
      const applied = applyNativeKernels(threads, 'native');
      if (!applied.ok) throw new BackendLoadError(applied.reason, { missing: true, hint: applied.hint });
      await activateBackend(TFJS_BACKEND_NAME.native);
      return { threads: applied.info.threads, simd: false, nativeKernels: applied.info };
    }
    case 'cpu':
      await activateBackend(TFJS_BACKEND_NAME.cpu);
      silenceCpuBanner();
      return { threads: 1, simd: false };
    case 'tensorflow':
    case 'tensorflow-gpu': {
      const native = await startNative(name);
      return { threads: native.threads, simd: false, ...(native.note === undefined ? {} : { fallbackReason: native.note }) };
    }
    case 'webgpu':
      return { threads: 1, simd: false, adapter: await startWebgpu({ automatic }) };
  }
}

/**
 * tfjs-backend-cpu prints a banner advising tfjs-node on its first tensor. The backend line
 * already says what runs, and on `auto` cpu is only chosen after tfjs-node was tried.
 */
function silenceCpuBanner(): void {
  const cpu = backendInstance('cpu') as { firstUse?: boolean } | undefined;
  if (cpu !== undefined && cpu.firstUse === true) cpu.firstUse = false;
}

/** Lines already logged: the missing native kernels are reported once per process. */
const said = new Set<string>();

function sayOnce(log: (line: string) => void, line: string): void {
  if (said.has(line)) return;
  said.add(line);
  log(line);
}

function kernelFixesOf(name: BackendName, threads: number): string[] {
  const fixes: KernelFix[] = [];
  if (name === 'wasm') fixes.push('slice-view', 'shared-identity', 'gather-rows');
  if (name === 'wasm' && nativeKernelsApplied('wasm')) fixes.push(...NATIVE_KERNEL_FIXES);
  if (name === 'webgpu') fixes.push(...webgpuKernelFixes());
  if (name === 'native') fixes.push('copy-slices', 'scatter-rows', 'broadcast-binary', ...NATIVE_KERNEL_FIXES);
  fixes.push(...opFixesFor(TFJS_BACKEND_NAME[name]));
  if (name === 'wasm' && threads > 1) fixes.push('threads-loader');
  return fixes;
}
