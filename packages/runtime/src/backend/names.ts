/**
 * The TensorFlow.js backends the runtime knows, in the order `auto` prefers them, with what each
 * registers in tfjs and how a user installs it.
 */

export const BACKEND_NAMES = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu'] as const;

/** A backend the runtime can run on. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What a user may ask for: a backend, or `auto` (the fastest installed one that works). */
export type BackendRequest = BackendName | 'auto';

/**
 * What `auto` tries, in order. webgpu only on a machine that shows a GPU device and only on a
 * hardware adapter: a software one (llvmpipe, SwiftShader) is several times slower than wasm
 * (docs/runtime.md §10). `native` (tensors in process memory, the addon's kernels) comes before
 * wasm: as fast, and not bound by the wasm heap's 4 GB; it is skipped quietly when the addon or
 * OpenBLAS is missing.
 */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu'];

export function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}

/** The name each backend registers under in tfjs: both native packages register `tensorflow`. */
export const TFJS_BACKEND_NAME: Readonly<Record<BackendName, string>> = {
  'tensorflow-gpu': 'tensorflow',
  tensorflow: 'tensorflow',
  webgpu: 'webgpu',
  native: 'native',
  wasm: 'wasm',
  cpu: 'cpu',
};

/**
 * How to get each backend. The native packages download libtensorflow 2.9.1 in an install script,
 * which pnpm runs only when the workspace allows it; every @tensorflow package must be 4.22.0 so
 * that there is one tfjs-core (one engine).
 */
export const INSTALL_HINTS: Readonly<Record<BackendName, string>> = {
  'tensorflow-gpu':
    "pnpm add @tensorflow/tfjs-node-gpu@4.22.0 (with allowBuilds: {'@tensorflow/tfjs-node-gpu': true} in pnpm-workspace.yaml; needs CUDA 11.2 and cuDNN 8.1)",
  tensorflow:
    "pnpm add @tensorflow/tfjs-node@4.22.0 (with allowBuilds: {'@tensorflow/tfjs-node': true} in pnpm-workspace.yaml)",
  webgpu: 'pnpm add webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0',
  native:
    'pnpm --filter @circuit-tuning/native build (needs g++, make, python3) and apt-get install -y libopenblas0-pthread',
  wasm: 'pnpm install (@tensorflow/tfjs-backend-wasm is a dependency of @circuit-tuning/runtime)',
  cpu: 'pnpm install (@tensorflow/tfjs-backend-cpu is a dependency of @circuit-tuning/runtime)',
};
