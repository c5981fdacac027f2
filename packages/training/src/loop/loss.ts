import { nextTokenCrossEntropy, tf } from '@circuit-tuning/runtime';

/**
 * Mean next-token negative log-likelihood: logits at position t are scored against ids[t+1],
 * over positions whose weight is non-zero (padding and the last position have weight 0).
 * `weights` [batch, seq]: 1 for ordinary tokens; larger for target tokens when a run weights them.
 */
export function nextTokenLoss(logits: tf.Tensor3D, ids: tf.Tensor2D, weights: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [batch, seq] = ids.shape;
    const w = tf.slice(weights, [0, 0], [batch, seq - 1]);
    return tf.div(tf.sum(tf.mul(nextTokenCrossEntropy(logits, ids), w)), tf.maximum(tf.sum(w), 1e-9)) as tf.Scalar;
  });
}

/** Global L2 norm of a set of gradients, and the factor that clips it to maxNorm (1 when under). */
export function clipFactor(
  grads: readonly tf.Tensor[],
  maxNorm: number | undefined,
  masks: readonly (tf.Tensor | undefined)[] = [],
): { norm: tf.Scalar; factor: tf.Scalar } {
  // Only the entries a step updates count: a circuit's masked-out entries are not trained, so
  // their gradients must neither shrink the update by clipping nor show in the logged norm (the
  // reference code zeroes them before clip_grad_norm_). One tidy per gradient: its masked square
  // is parameter-sized, and one tidy around all of them held every one until the end.
  const squares = grads.map((g, i) => tf.tidy(() => tf.sum(tf.square(masks[i] === undefined ? g : tf.mul(g, masks[i]!)))));
  const result = tf.tidy(() => {
    const norm = tf.sqrt(squares.length > 0 ? tf.addN(squares) : tf.scalar(0)) as tf.Scalar;
    const factor = maxNorm === undefined ? tf.scalar(1) : (tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6))) as tf.Scalar);
    return { norm, factor: factor as tf.Scalar };
  });
  tf.dispose(squares);
  return result;
}
