import type { NamedTensorMap } from '@tensorflow/tfjs-core';
import { CROSS_ENTROPY_GRAD_KERNEL, CROSS_ENTROPY_KERNEL } from '../backend/native-kernels';
import { tf } from '../backend/tf';

/**
 * Cross-entropy of each row of logits [rows, vocab] against its int32 target [rows]:
 * logsumexp(logits[r]) − logits[r, targets[r]], i.e. −log softmax(logits[r])[targets[r]].
 *
 * With the native kernels (wasm + addon) it is one kernel with a fused gradient, two passes over
 * the logits forward and one back, nothing of [rows, vocab] kept but the logits; elsewhere logSoftmax and
 * a one-hot product (tf.gather's gradient has no wasm kernel), about ten passes each way. For
 * GPT-2's vocabulary the logits are the largest tensors of a training step.
 */
export function crossEntropyRows(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  if (targets.dtype !== 'int32') throw new Error(`crossEntropyRows: targets must be int32, got ${targets.dtype}`);
  if (logits.dtype === 'float32' && tf.getKernel(CROSS_ENTROPY_KERNEL, tf.getBackend()) !== undefined) {
    registerGradient();
    return tf.engine().runKernel(CROSS_ENTROPY_KERNEL, { x: logits, targets } as unknown as NamedTensorMap) as tf.Tensor1D;
  }
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(targets, logits.shape[1])), 1)) as tf.Tensor1D);
}

/**
 * crossEntropyRows over every position of logits [batch, seq, vocab] against targets [batch·seq]:
 * [batch·seq]. The logits are reshaped under a gradient that saves nothing, never sliced: a saved
 * or sliced copy of the largest tensor of a step costs 98 MB for GPT-2 at 512 tokens.
 */
export function positionCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor1D): tf.Tensor1D {
  const [batch, seq, vocab] = logits.shape;
  return crossEntropyRows(reshapeSavingNothing(logits, [batch * seq, vocab]) as tf.Tensor2D, targets);
}

/**
 * Next-token cross-entropy of every position but the last: −log softmax(logits[b, t])[ids[b, t+1]]
 * as [batch, seq − 1]. Every position is scored (the last against a placeholder target, then
 * dropped), so the logits need no slice.
 */
export function nextTokenCrossEntropy(logits: tf.Tensor3D, ids: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, seq] = ids.shape;
    const targets = tf.reshape(tf.concat([tf.slice(ids, [0, 1], [batch, seq - 1]), tf.zeros([batch, 1], 'int32')], 1), [batch * seq]) as tf.Tensor1D;
    const nll = tf.reshape(positionCrossEntropy(logits, targets), [batch, seq]);
    return tf.slice(nll, [0, 0], [batch, seq - 1]) as tf.Tensor2D;
  });
}

/** tf.reshape under a gradient that saves nothing: tf.reshape's own saves its input as a clone, a copy of the logits wherever Identity copies (stock wasm). */
function reshapeSavingNothing(x: tf.Tensor, shape: number[]): tf.Tensor {
  const inputShape = x.shape;
  return tf.customGrad(((input: tf.Tensor) => ({
    value: tf.reshape(input, shape),
    gradFunc: (dy: tf.Tensor) => tf.reshape(dy, inputShape),
  })) as Parameters<typeof tf.customGrad>[0])(x);
}

function registerGradient(): void {
  if (tf.getGradient(CROSS_ENTROPY_KERNEL) !== undefined) return;
  tf.registerGradient({
    kernelName: CROSS_ENTROPY_KERNEL,
    inputsToSave: ['x', 'targets'],
    // The per-row loss gives the backward each row's log-sum-exp back: one pass instead of three.
    outputsToSave: [true],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [x, targets, loss] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      return {
        x: () => tf.engine().runKernel(CROSS_ENTROPY_GRAD_KERNEL, { x, targets, loss, dy: dy as tf.Tensor } as unknown as NamedTensorMap) as tf.Tensor,
        targets: () => tf.zerosLike(targets),
      };
    },
  });
}
