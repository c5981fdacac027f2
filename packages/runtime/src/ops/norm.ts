import type { NamedAttrMap, NamedTensorMap } from '@tensorflow/tfjs-core';
import { LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL, RMS_NORM_GRAD_KERNEL, RMS_NORM_KERNEL } from '../backend/native-kernels';
import { tf } from '../backend/tf';

/**
 * LayerNorm over the last axis, (x − mean)/√(var + eps)·w + b, as one fused kernel with a fused
 * gradient where the backend has them (native, or wasm with the native addon); undefined
 * elsewhere, and the caller runs its composed version (packages/model's layers.ts, which defines
 * the formula).
 */
export function fusedLayerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor | undefined {
  if (x.dtype !== 'float32' || tf.getKernel(LAYER_NORM_KERNEL, tf.getBackend()) === undefined) return undefined;
  registerGradients();
  return tf.engine().runKernel(LAYER_NORM_KERNEL, { x, w, b } as unknown as NamedTensorMap, { eps } as unknown as NamedAttrMap) as tf.Tensor;
}

/** RMSNorm over the last axis, x/√(mean(x²) + eps)·w (the Llama family), the same way. */
export function fusedRmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor | undefined {
  if (x.dtype !== 'float32' || tf.getKernel(RMS_NORM_KERNEL, tf.getBackend()) === undefined) return undefined;
  registerGradients();
  return tf.engine().runKernel(RMS_NORM_KERNEL, { x, w } as unknown as NamedTensorMap, { eps } as unknown as NamedAttrMap) as tf.Tensor;
}

function registerGradients(): void {
  if (tf.getGradient(LAYER_NORM_KERNEL) !== undefined) return;
  tf.registerGradient({
    kernelName: LAYER_NORM_KERNEL,
    inputsToSave: ['x', 'w'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: NamedAttrMap) => {
      const [x, w] = saved as [tf.Tensor, tf.Tensor];
      // One kernel call gives all three; tfjs then asks for them one by one.
      const [dx, dw, db] = tf.engine().runKernel(LAYER_NORM_GRAD_KERNEL, { x, w, dy: dy as tf.Tensor } as unknown as NamedTensorMap, attrs) as tf.Tensor[];
      return { x: () => dx as tf.Tensor, w: () => dw as tf.Tensor, b: () => db as tf.Tensor };
    },
  });
  tf.registerGradient({
    kernelName: RMS_NORM_KERNEL,
    inputsToSave: ['x', 'w'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: NamedAttrMap) => {
      const [x, w] = saved as [tf.Tensor, tf.Tensor];
      const [dx, dw] = tf.engine().runKernel(RMS_NORM_GRAD_KERNEL, { x, w, dy: dy as tf.Tensor } as unknown as NamedTensorMap, attrs) as tf.Tensor[];
      return { x: () => dx as tf.Tensor, w: () => dw as tf.Tensor };
    },
  });
}
