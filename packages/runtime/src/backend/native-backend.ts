import { createRequire } from 'node:module';
import type * as TfCpu from '@tensorflow/tfjs-backend-cpu';
import { registerCpuMemory } from './kernel-memory';
import { tf } from './tf';
import { applyArrayKernelFixes } from './wasm-kernels';

/**
 * The `native` backend: tensors in ordinary process memory (tfjs-backend-cpu's typed arrays, so
 * past the wasm heap's 4 GB), computed by the native addon's kernels where the runtime has them
 * (native-kernels.ts: OpenBLAS products, fused LayerNorm, gelu, softmax, cross-entropy, Adam, Add,
 * Transpose, Sum) and by tfjs-backend-cpu's kernels everywhere else, with the runtime's array
 * kernels (Slice, Unpack, SplitV, GatherV2 as contiguous copies, wasm-kernels.ts) in place of the
 * cpu ones that index element by element.
 *
 * It is a tfjs backend of its own name, so that `cpu` stays the stock backend: its kernels are
 * copies of the cpu backend's configs registered under `native`, which the runtime's kernels then
 * take over. Registered at priority 0 (below cpu): tfjs never picks it on its own.
 */

export const NATIVE_BACKEND = 'native';

type CpuPackage = typeof TfCpu;

let registered = false;

/** Registers the `native` backend's factory and its kernels (idempotent). */
export function registerNativeBackend(): void {
  if (registered) return;
  const { MathBackendCPU } = createRequire(import.meta.url)('@tensorflow/tfjs-backend-cpu') as CpuPackage;
  if (tf.findBackendFactory(NATIVE_BACKEND) === null) {
    tf.registerBackend(
      NATIVE_BACKEND,
      () => {
        const backend = new MathBackendCPU();
        // The backend line says what runs; the banner advising tfjs-node would only mislead.
        (backend as unknown as { firstUse: boolean }).firstUse = false;
        registerCpuMemory(backend, NATIVE_BACKEND);
        return backend;
      },
      0,
    );
  }
  for (const config of tf.getKernelsForBackend('cpu')) {
    if (tf.getKernel(config.kernelName, NATIVE_BACKEND) === undefined) tf.registerKernel({ ...config, backendName: NATIVE_BACKEND });
  }
  applyArrayKernelFixes(NATIVE_BACKEND);
  registered = true;
}
