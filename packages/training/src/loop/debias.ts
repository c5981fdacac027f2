import { ConfigError } from '@circuit-tuning/contracts';
import { tf } from '@circuit-tuning/runtime';
import { z } from 'zod';
import { nextTokenLoss } from './loss';

/**
 * The de-biasing objective of docs/method.md §4.3: NLL + β·|logit(male form) − logit(female form)| at
 * every position whose next token is one of the listed pronouns. The pair is the one that contains
 * the next token, so a `he` sentence and its `she` twin both push the same gap towards zero.
 */
export const DebiasConfig = z.strictObject({
  /** β: the weight of the |pronoun logit difference| term. */
  beta: z.number().positive().default(1).describe('β: weight of the |logit(male form) − logit(female form)| term'),
  /** [male form, female form] pairs, as tokens of the model's vocabulary. */
  pairs: z
    .array(z.tuple([z.string().min(1), z.string().min(1)]))
    .min(1)
    .default([
      ['he', 'she'],
      ['him', 'her'],
      ['his', 'her'],
    ])
    .describe("[male form, female form] pronoun pairs, as tokens of the model's vocabulary"),
});
export type DebiasConfig = z.output<typeof DebiasConfig>;

/** A training objective on the logits of a batch (the loop's default is plain next-token NLL). */
export type Objective = (logits: tf.Tensor3D, ids: tf.Tensor2D, weights: tf.Tensor2D) => tf.Scalar;

/** Pronoun token id → the [male, female] ids of its pair (`her` belongs to the first pair listing it). */
export function pronounPairIds(config: DebiasConfig, tokenToId: (token: string) => number | undefined): Map<number, [number, number]> {
  const byId = new Map<number, [number, number]>();
  for (const [male, female] of config.pairs) {
    const ids = [tokenToId(male), tokenToId(female)];
    if (ids[0] === undefined || ids[1] === undefined) {
      throw new ConfigError(`debias pair [${male}, ${female}]: '${ids[0] === undefined ? male : female}' is not a token of the model's vocabulary`, {
        hint: 'list pronoun pairs that the tokenizer has as single tokens',
      });
    }
    const pair: [number, number] = [ids[0], ids[1]];
    for (const id of pair) if (!byId.has(id)) byId.set(id, pair);
  }
  return byId;
}

/**
 * NLL plus β times the mean |pronoun logit difference| over the positions (with non-zero loss
 * weight) whose next token is a listed pronoun; a batch without pronouns is plain NLL.
 */
export function debiasObjective(beta: number, pairs: ReadonlyMap<number, [number, number]>): Objective {
  return (logits, ids, weights) => {
    const [batch, seq, vocab] = logits.shape;
    // The direction (+1 male, −1 female) at each pronoun-predicting position, built on the CPU.
    const idValues = ids.dataSync();
    const weightValues = weights.dataSync();
    const direction = new Float32Array(batch * seq * vocab); // [batch, seq, vocab]
    let count = 0;
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t + 1 < seq; t++) {
        const pair = pairs.get(idValues[b * seq + t + 1]!);
        if (!pair || weightValues[b * seq + t] === 0) continue;
        direction[(b * seq + t) * vocab + pair[0]] = 1;
        direction[(b * seq + t) * vocab + pair[1]] = -1;
        count++;
      }
    }
    return tf.tidy(() => {
      const nll = nextTokenLoss(logits, ids, weights);
      if (count === 0) return nll;
      const gap = tf.sum(tf.mul(logits, tf.tensor3d(direction, [batch, seq, vocab])), 2); // [batch, seq]
      return tf.add(nll, tf.mul(beta / count, tf.sum(tf.abs(gap)))) as tf.Scalar;
    });
  };
}
