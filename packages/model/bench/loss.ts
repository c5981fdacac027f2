import { tf } from '@circuit-tuning/runtime';

type GradFunc = Parameters<typeof tf.customGrad>[0];
type Save = (tensors: tf.Tensor[]) => void;

/**
 * Next-token batch data: `input` int32 [batch, seq] and the target weights [batch·seq, vocab]
 * (one-hot of the next token, scaled by 1 / (batch·seq)), so that the mean cross-entropy is
 * −Σ logSoftmax(logits) · weights. ids are a fixed pseudo-random stream of seq + 1 tokens per row.
 */
export interface NextTokenBatch {
  input: tf.Tensor2D;
  weights: tf.Tensor2D;
  dispose(): void;
}

export function nextTokenBatch(batch: number, seq: number, vocab: number, seed = 1): NextTokenBatch {
  const ids = new Int32Array(batch * (seq + 1));
  let state = (seed * 2654435761) >>> 0;
  for (let i = 0; i < ids.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0; // LCG, same on every run
    ids[i] = state % vocab;
  }
  const input = new Int32Array(batch * seq);
  const targets = new Int32Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seq; t++) {
      input[b * seq + t] = ids[b * (seq + 1) + t]!;
      targets[b * seq + t] = ids[b * (seq + 1) + t + 1]!;
    }
  }
  const inputT = tf.tensor2d(input, [batch, seq], 'int32');
  const weights = tf.tidy(() => tf.mul(tf.oneHot(tf.tensor1d(targets, 'int32'), vocab), 1 / (batch * seq))) as tf.Tensor2D;
  return { input: inputT, weights, dispose: () => tf.dispose([inputT, weights]) };
}

/**
 * Mean next-token cross-entropy of logits [batch, seq, vocab]: −Σ logSoftmax(logits) · weights.
 *
 * Written with logSoftmax and a one-hot multiply (tf.gather's gradient has no wasm kernel), under
 * a customGrad whose backward is the closed form (softmax · Σweights − weights) · dy. That keeps
 * one [tokens, vocab] tensor on the tape instead of every intermediate of logSoftmax: with GPT-2's
 * vocabulary those are 100 MB each at 512 tokens and decide whether a batch fits in wasm's 4 GB.
 */
export function crossEntropy(logits: tf.Tensor3D, weights: tf.Tensor2D): tf.Scalar {
  // Reshaped under a gradient that keeps nothing: tf.reshape keeps its input on the tape, a 98 MB
  // copy on wasm at 512 tokens.
  const flat = tf.customGrad(((x: tf.Tensor) => ({
    value: tf.reshape(x, weights.shape),
    gradFunc: (dy: tf.Tensor) => tf.reshape(dy, logits.shape),
  })) as GradFunc)(logits) as tf.Tensor2D; // [tokens, vocab]
  const loss = tf.customGrad(((x: tf.Tensor2D, save: Save) => {
    const logProbs = tf.logSoftmax(x); // [tokens, vocab]
    save([logProbs]);
    return {
      value: tf.neg(tf.sum(tf.mul(logProbs, weights))) as tf.Scalar,
      // In a tidy: a custom gradient's intermediates otherwise live until the backward pass ends.
      gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [lp] = saved as [tf.Tensor2D];
          const rowWeight = tf.sum(weights, 1, true); // [tokens, 1]
          return tf.mul(tf.sub(tf.mul(tf.exp(lp), rowWeight), weights), dy); // [tokens, vocab]
        }),
    };
  }) as GradFunc) as (x: tf.Tensor2D) => tf.Scalar;
  return loss(flat);
}
