import type { SgdSettings } from '@circuit-tuning/native';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { SGD_STEP_KERNEL } from '../backend/native-kernels';
import { tf } from '../backend/tf';

/**
 * One SGD step of one parameter as a single fused kernel, where the backend has one (native or
 * wasm with the native addon). Per-entry semantics and float32 rounding are those of the training
 * package's optimizer (packages/training/src/optim/sgd.ts): v ← μv + g + λp; p ← p − lr·v; a 0/1
 * mask whose 0 entries keep their value and momentum exactly. The mask has the parameter's shape,
 * or is one value per row ([rows, 1]) or per column ([1, cols]) of a matrix, as circuit-tuning
 * builds it.
 *
 * Returns the new parameter and (with momentum) velocity, which the caller owns and assigns, or
 * undefined when the active backend has no fused kernel: the caller then runs its tf-ops version.
 */
export interface SgdStepInputs {
  param: tf.Tensor;
  grad: tf.Tensor;
  /** The momentum buffer; required when the momentum is above 0. */
  velocity?: tf.Tensor;
  mask?: tf.Tensor;
}

export type SgdStepSettings = SgdSettings & { learningRate: number };

export type { SgdSettings };

export function fusedSgdStep(inputs: SgdStepInputs, settings: SgdStepSettings): { param: tf.Tensor; velocity: tf.Tensor | undefined } | undefined {
  if (tf.getKernel(SGD_STEP_KERNEL, tf.getBackend()) === undefined) return undefined;
  if (settings.momentum > 0 && inputs.velocity === undefined) throw new Error(`${SGD_STEP_KERNEL}: a momentum of ${settings.momentum} needs the velocity`);
  const kernelInputs: Record<string, tf.Tensor> = { param: inputs.param, grad: inputs.grad };
  if (settings.momentum > 0) kernelInputs.velocity = inputs.velocity!;
  if (inputs.mask !== undefined) kernelInputs.mask = inputs.mask;
  const outs = tf.engine().runKernel(SGD_STEP_KERNEL, kernelInputs as tf.NamedTensorMap, settings as unknown as NamedAttrMap) as tf.Tensor[];
  const [param, velocity] = outs;
  if (param === undefined || (settings.momentum > 0 && velocity === undefined)) throw new Error(`${SGD_STEP_KERNEL} returned too few outputs`);
  return { param, velocity };
}
