import type { BackendName, BackendRequest } from './names';

/**
 * What the process computes with. Stage manifests record it, so it stays plain JSON.
 */
export interface BackendInfo {
  /** The backend in use. */
  name: BackendName;
  /** What was asked for (option > CT_BACKEND > `auto`). */
  requested: BackendRequest;
  /** The tfjs-core version (the one engine of the process). */
  tfjsVersion: string;
  /**
   * CPU threads the backend computes with: the XNNPACK threadpool on wasm, 1 on cpu and webgpu
   * (host side), libtensorflow's default (the core count) on the native backends.
   */
  threads: number;
  /** Whether the wasm SIMD binary runs (false on every other backend). */
  simd: boolean;
  /** The runtime's kernel fixes active on this backend (see `KERNEL_FIXES`). */
  kernelFixes: string[];
  /** The GPU adapter webgpu computes on (webgpu only). */
  adapter?: GpuAdapter;
  /** The BLAS library behind the `native-matmul` kernels, when they run. */
  nativeKernels?: { library: string; config: string; threads: number; loopThreads: number };
  /** Why the result differs from the request: a backend that failed, or threads that did not start. */
  fallbackReason?: string;
}

/** The adapter a webgpu run computes on, as Dawn names it. */
export interface GpuAdapter {
  name: string;
  /** A software renderer (llvmpipe, SwiftShader): correct, and slower than the CPU backends. */
  software: boolean;
  /** The Dawn flags it was found with ([] for Dawn's default). */
  dawnFlags: string[];
}

/** The one log line, e.g. `backend: wasm (tfjs 4.22.0, 2 threads, SIMD, fixes: slice-view, ...)`. */
export function formatBackendLine(info: BackendInfo, threadsNote?: string): string {
  const parts = [`tfjs ${info.tfjsVersion}`];
  const threads = `${info.threads} thread${info.threads === 1 ? '' : 's'}`;
  parts.push(threadsNote === undefined ? threads : `${threads} (${threadsNote})`);
  if (info.simd) parts.push('SIMD');
  if (info.adapter !== undefined) parts.push(`adapter: ${info.adapter.name}${info.adapter.software ? ' (software)' : ''}`);
  if (info.nativeKernels !== undefined) {
    const { config, library, threads: blasThreads, loopThreads } = info.nativeKernels;
    const loops = loopThreads === blasThreads ? '' : ` (own loops on ${loopThreads} thread${loopThreads === 1 ? '' : 's'}: built without OpenMP)`;
    parts.push(`native matmul: ${config.split(' ').slice(0, 2).join(' ') || library}, ${blasThreads} thread${blasThreads === 1 ? '' : 's'}${loops}`);
  }
  if (info.kernelFixes.length > 0) parts.push(`fixes: ${info.kernelFixes.join(', ')}`);
  const line = `backend: ${info.name} (${parts.join(', ')})`;
  return info.fallbackReason === undefined ? line : `${line}; fallback: ${info.fallbackReason}`;
}
