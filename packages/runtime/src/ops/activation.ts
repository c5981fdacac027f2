import type { NamedTensorMap } from '@tensorflow/tfjs-core';
import { GELU_TANH_GRAD_KERNEL, GELU_TANH_KERNEL } from '../backend/native-kernels';
import { tf } from '../backend/tf';

/**
 * gelu_new (GPT-2's tanh approximation) as one fused kernel with a fused gradient, where the
 * backend has them (wasm with the native addon); undefined elsewhere, and the caller runs its
 * composed version (packages/model's layers.ts, which defines the formula).
 */
export function fusedGeluTanh(x: tf.Tensor): tf.Tensor | undefined {
  if (x.dtype !== 'float32' || tf.getKernel(GELU_TANH_KERNEL, tf.getBackend()) === undefined) return undefined;
  registerGradient();
  return tf.engine().runKernel(GELU_TANH_KERNEL, { x } as unknown as NamedTensorMap) as tf.Tensor;
}

function registerGradient(): void {
  if (tf.getGradient(GELU_TANH_KERNEL) !== undefined) return;
  tf.registerGradient({
    kernelName: GELU_TANH_KERNEL,
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [x] = saved as [tf.Tensor];
      return { x: () => tf.engine().runKernel(GELU_TANH_GRAD_KERNEL, { x, dy: dy as tf.Tensor } as unknown as NamedTensorMap) as tf.Tensor };
    },
  });
}
