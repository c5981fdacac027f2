import { tf } from '@circuit-tuning/runtime';
import type { PromptBatch } from '../prompts/prompt-set';
import type { MetricDefinition } from './registry';

/**
 * Logits [batch, seq, vocab] → [batch, vocab] at each row's `pos`, by a one-hot multiply (no
 * gather, whose gradient has no wasm kernel). The caller owns the result.
 */
export function logitsAtPositions(logits: tf.Tensor3D, pos: Int32Array): tf.Tensor2D {
  const [batch, seq] = logits.shape;
  return tf.tidy(() => {
    const mask = new Float32Array(batch * seq);
    pos.forEach((p, b) => {
      mask[b * seq + p] = 1;
    });
    return tf.sum(tf.mul(logits, tf.tensor3d(mask, [batch, seq, 1])), 1) as tf.Tensor2D; // [batch, vocab]
  });
}

/** One-hot rows [batch, vocab] of token ids. */
export function oneHotRows(ids: Int32Array, vocab: number): tf.Tensor2D {
  const values = new Float32Array(ids.length * vocab);
  ids.forEach((id, b) => {
    values[b * vocab + id] = 1;
  });
  return tf.tensor2d(values, [ids.length, vocab]);
}

/** Per-batch tensors a metric needs, built once and reused across forward passes. */
export interface MetricTargets {
  answer: tf.Tensor2D;
  foil: tf.Tensor2D;
  /** Clean log-probabilities at the prediction position, when the metric needs them. */
  reference: tf.Tensor2D | undefined;
  dispose(): void;
}

export function metricTargets(batch: PromptBatch, vocab: number): MetricTargets {
  const answer = oneHotRows(batch.answer, vocab);
  const foil = oneHotRows(batch.foil, vocab);
  const targets: MetricTargets = {
    answer,
    foil,
    reference: undefined,
    dispose() {
      answer.dispose();
      foil.dispose();
      targets.reference?.dispose();
    },
  };
  return targets;
}

/**
 * x itself, through which no gradient flows: the reference must stay a constant of the tape. (A
 * copy read back from the device would do the same, but a GPU backend cannot read synchronously
 * under Node: docs/runtime.md §7.)
 */
const withoutGradient = tf.customGrad(((x: tf.Tensor) => ({ value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) })) as Parameters<typeof tf.customGrad>[0]) as <T extends tf.Tensor>(x: T) => T;

/**
 * M per example [batch] from full logits. When the metric needs a reference and none is set yet,
 * these logits are taken as the clean ones: their log-probabilities become the reference, a
 * constant of the gradient tape (withoutGradient).
 */
export function metricPerExample(metric: MetricDefinition, logits: tf.Tensor3D, batch: PromptBatch, targets: MetricTargets): tf.Tensor1D {
  const atPos = logitsAtPositions(logits, batch.pos);
  try {
    if (metric.needsReference && targets.reference === undefined) {
      targets.reference = tf.keep(tf.tidy(() => withoutGradient(tf.logSoftmax(atPos))));
    }
    // Clones share the data; a gradient tape may dispose what it saved, never the originals.
    const reference = targets.reference === undefined ? undefined : tf.clone(targets.reference);
    try {
      return metric.perExample({ logits: atPos, answer: targets.answer, foil: targets.foil, ...(reference === undefined ? {} : { reference }) });
    } finally {
      reference?.dispose();
    }
  } finally {
    atPos.dispose();
  }
}
