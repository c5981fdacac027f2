import type { AdamSettings } from '@circuit-tuning/native';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { ADAM_STEP_KERNEL } from '../backend/native-kernels';
import { tf } from '../backend/tf';

/**
 * One Adam/AdamW step of one parameter as a single fused kernel, where the backend has one (wasm
 * with the native addon). Per-entry semantics are those of the training package's optimizer:
 * per-entry step counts `t` (bias corrections 1 − β^t per entry), and a 0/1 `mask` whose 0
 * entries keep their value, moments and count exactly. Without a mask `t` may be a single count
 * shared by every entry (a scalar); the new `t` then has its shape.
 *
 * Returns the new parameter, moments and counts (the caller owns them and assigns them), or
 * undefined when the active backend has no fused kernel: the caller then runs its tf-ops version.
 */
export interface AdamStepInputs {
  param: tf.Tensor;
  grad: tf.Tensor;
  m: tf.Tensor;
  v: tf.Tensor;
  t: tf.Tensor;
  mask?: tf.Tensor;
}

/** Adam's settings (declared once, in @circuit-tuning/native) and the step's learning rate. */
export type AdamStepSettings = AdamSettings & { learningRate: number };

export type { AdamSettings };

export function fusedAdamStep(
  inputs: AdamStepInputs,
  settings: AdamStepSettings,
): { param: tf.Tensor; m: tf.Tensor; v: tf.Tensor; t: tf.Tensor } | undefined {
  if (tf.getKernel(ADAM_STEP_KERNEL, tf.getBackend()) === undefined) return undefined;
  const { mask, ...rest } = inputs;
  const kernelInputs = (mask === undefined ? rest : { ...rest, mask }) as unknown as tf.NamedTensorMap;
  const [param, m, v, t] = tf.engine().runKernel(ADAM_STEP_KERNEL, kernelInputs, settings as unknown as NamedAttrMap) as tf.Tensor[];
  if (param === undefined || m === undefined || v === undefined || t === undefined) throw new Error(`${ADAM_STEP_KERNEL} returned too few outputs`);
  return { param, m, v, t };
}
