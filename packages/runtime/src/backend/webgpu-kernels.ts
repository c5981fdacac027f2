import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { KernelFix } from './fixes';
import { KernelTakeover } from './kernel-takeover';
import {
  ADAM_STEP_KERNEL,
  CROSS_ENTROPY_GRAD_KERNEL,
  CROSS_ENTROPY_KERNEL,
  GELU_TANH_GRAD_KERNEL,
  GELU_TANH_KERNEL,
  LAYER_NORM_GRAD_KERNEL,
  LAYER_NORM_KERNEL,
  MASKED_SOFTMAX_KERNEL,
  RMS_NORM_GRAD_KERNEL,
  RMS_NORM_KERNEL,
  SGD_STEP_KERNEL,
  SOFTMAX_GRAD_KERNEL,
} from './native-kernels';
import { tf } from './tf';
import { adamStep } from './webgpu/adam';
import { crossEntropy, crossEntropyGrad } from './webgpu/cross-entropy';
import { geluTanh, geluTanhGrad } from './webgpu/gelu';
import { matmulTakeover, WEBGPU_MATMUL_ENV } from './webgpu/matmul';
import { layerNorm, layerNormGrad, rmsNorm, rmsNormGrad } from './webgpu/norm';
import { sgdStep } from './webgpu/sgd';
import { maskedSoftmax, softmaxGrad } from './webgpu/softmax';

/**
 * The runtime's kernels on tfjs-backend-webgpu (docs/runtime.md §7), registered over the stock ones
 * like the native CPU kernels (native-kernels.ts).
 *
 * AddN: the stock kernel binds every input as its own storage buffer, and WebGPU caps storage
 * buffers per shader stage (8 unless a device asks for more; tfjs does not). The gradient norm of a
 * model with 37 parameters (training/src/loop/loss.ts) failed pipeline validation on Dawn. Here
 * the inputs are summed in groups that fit, then the partial sums.
 *
 * The runtime's own fused kernels (the names in native-kernels.ts, which the ops in src/ops use
 * when the active backend has them) are WGSL programs in ./webgpu/, run by ./webgpu/program.ts.
 */

type KernelParams = Parameters<KernelFunc>[0];

interface WebgpuDevice {
  limits: { maxStorageBuffersPerShaderStage: number };
}

function addN(params: KernelParams): TensorInfo {
  const tensors = params.inputs as unknown as TensorInfo[];
  const device = (params.backend as unknown as { device?: WebgpuDevice }).device;
  // One binding is the output.
  const perCall = Math.max(2, (device?.limits.maxStorageBuffersPerShaderStage ?? 8) - 1);
  if (tensors.length <= perCall) return takeover.runStock('AddN', params) as TensorInfo;
  const partials: TensorInfo[] = [];
  for (let start = 0; start < tensors.length; start += perCall) {
    const group = tensors.slice(start, start + perCall);
    partials.push(takeover.runStock('AddN', { ...params, inputs: group as unknown as KernelParams['inputs'] }) as TensorInfo);
  }
  try {
    return addN({ ...params, inputs: partials as unknown as KernelParams['inputs'] });
  } finally {
    for (const partial of partials) (params.backend as KernelBackend).disposeData(partial.dataId);
  }
}

const takeover = new KernelTakeover('webgpu', { AddN: addN });

/** The runtime's own kernels on webgpu, each with its KERNEL_FIXES entry (fixes.ts). */
export const WEBGPU_OWN_KERNELS: ReadonlyArray<readonly [string, KernelFunc, WebgpuKernelFix]> = [
  [ADAM_STEP_KERNEL, adamStep as KernelFunc, 'webgpu-optimizers'],
  [SGD_STEP_KERNEL, sgdStep as KernelFunc, 'webgpu-optimizers'],
  [LAYER_NORM_KERNEL, layerNorm, 'webgpu-layernorm'],
  [LAYER_NORM_GRAD_KERNEL, layerNormGrad, 'webgpu-layernorm'],
  [RMS_NORM_KERNEL, rmsNorm, 'webgpu-layernorm'],
  [RMS_NORM_GRAD_KERNEL, rmsNormGrad, 'webgpu-layernorm'],
  [GELU_TANH_KERNEL, geluTanh, 'webgpu-gelu'],
  [GELU_TANH_GRAD_KERNEL, geluTanhGrad, 'webgpu-gelu'],
  [MASKED_SOFTMAX_KERNEL, maskedSoftmax, 'webgpu-softmax'],
  [SOFTMAX_GRAD_KERNEL, softmaxGrad, 'webgpu-softmax'],
  [CROSS_ENTROPY_KERNEL, crossEntropy as KernelFunc, 'webgpu-cross-entropy'],
  [CROSS_ENTROPY_GRAD_KERNEL, crossEntropyGrad as KernelFunc, 'webgpu-cross-entropy'],
];

/** The KERNEL_FIXES entries of the webgpu kernels (select.ts lists them in the backend line). */
export type WebgpuKernelFix = Extract<KernelFix, `webgpu-${string}`>;

/**
 * Registers the runtime's webgpu kernels (idempotent); the webgpu backend must be registered.
 * `fused: false` takes the runtime's own kernels back out (AddN's fix stays: without it a
 * gradient norm fails), so that the ops run their composed tf versions, for comparisons.
 * `tiledMatmul` (default: CT_WEBGPU_MATMUL=tiled) puts the 64 × 64-tile BatchMatMul
 * (webgpu/matmul.ts) over the stock one for large products, or the stock one back.
 */
export function applyWebgpuKernels(options: { fused?: boolean; tiledMatmul?: boolean } = {}): void {
  takeover.apply();
  for (const [kernelName, kernelFunc] of WEBGPU_OWN_KERNELS) {
    const registered = tf.getKernel(kernelName, 'webgpu') !== undefined;
    if (options.fused !== false && !registered) tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc });
    if (options.fused === false && registered) tf.unregisterKernel(kernelName, 'webgpu');
  }
  if (options.tiledMatmul ?? process.env[WEBGPU_MATMUL_ENV] === 'tiled') matmulTakeover.apply();
  else matmulTakeover.remove();
}

/** Puts the stock webgpu kernels back and unregisters the runtime's own. */
export function removeWebgpuKernels(): void {
  takeover.remove();
  matmulTakeover.remove();
  for (const [kernelName] of WEBGPU_OWN_KERNELS) {
    if (tf.getKernel(kernelName, 'webgpu') !== undefined) tf.unregisterKernel(kernelName, 'webgpu');
  }
}

/** The KERNEL_FIXES entries of the webgpu kernels registered now (for the backend line). */
export function webgpuKernelFixes(): WebgpuKernelFix[] {
  const fixes: WebgpuKernelFix[] = takeover.applied ? ['webgpu-addn'] : [];
  for (const [kernelName, , fix] of WEBGPU_OWN_KERNELS) {
    if (tf.getKernel(kernelName, 'webgpu') !== undefined && !fixes.includes(fix)) fixes.push(fix);
  }
  if (matmulTakeover.applied) fixes.push('webgpu-matmul');
  return fixes;
}
