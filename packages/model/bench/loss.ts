import { positionCrossEntropy, tf } from '@circuit-tuning/runtime';


/**
 * Next-token batch data: `input` int32 [batch, seq] and `targets` int32 [batch·seq], the next
 * token of each position. ids are a fixed pseudo-random stream of seq + 1 tokens per row.
 */
export interface NextTokenBatch {
  input: tf.Tensor2D;
  targets: tf.Tensor1D;
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
  const targetsT = tf.tensor1d(targets, 'int32');
  return { input: inputT, targets: targetsT, dispose: () => tf.dispose([inputT, targetsT]) };
}

/**
 * Mean next-token cross-entropy of logits [batch, seq, vocab] against targets [batch·seq], as the
 * training package's loss computes it (the runtime's positionCrossEntropy: one native kernel with
 * a fused gradient under wasm + the addon, logSoftmax and a one-hot product elsewhere).
 */
export function crossEntropy(logits: tf.Tensor3D, targets: tf.Tensor1D): tf.Scalar {
  return tf.mean(positionCrossEntropy(logits, targets));
}
