import type { NamedAttrMap, NamedTensorMap } from '@tensorflow/tfjs-core';
import { MASKED_SOFTMAX_KERNEL, SOFTMAX_GRAD_KERNEL } from '../backend/native-kernels';
import { tf } from '../backend/tf';

/**
 * Attention's softmax and the matching step of its gradient, for code that writes its own
 * gradient (the model's attention core): one native pass each where the backend has the kernels
 * (wasm with the native addon), the composed tf ops elsewhere. No gradient of their own.
 *
 *   maskedSoftmax:   p  = softmax(scores·scale + mask) over the last axis; mask [M, T] repeats
 *                    over the rows of scores [..., T] (e.g. a causal [T, T] over [BH, T, T])
 *   softmaxBackward: ds = p ⊙ (dp − Σ_last dp ⊙ p) · scale, the gradient w.r.t. the scores
 */
export function maskedSoftmax(scores: tf.Tensor, mask: tf.Tensor, scale: number): tf.Tensor {
  if (native(scores, mask)) {
    return tf.engine().runKernel(MASKED_SOFTMAX_KERNEL, { x: scores, mask } as unknown as NamedTensorMap, { scale } as unknown as NamedAttrMap) as tf.Tensor;
  }
  return tf.tidy(() => tf.softmax(tf.add(tf.mul(scores, scale), mask)));
}

export function softmaxBackward(p: tf.Tensor, dp: tf.Tensor, scale: number): tf.Tensor {
  if (native(p, dp)) {
    return tf.engine().runKernel(SOFTMAX_GRAD_KERNEL, { p, dp } as unknown as NamedTensorMap, { scale } as unknown as NamedAttrMap) as tf.Tensor;
  }
  return tf.tidy(() => tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale));
}

function native(...xs: tf.Tensor[]): boolean {
  return xs.every((x) => x.dtype === 'float32') && tf.getKernel(MASKED_SOFTMAX_KERNEL, tf.getBackend()) !== undefined;
}
