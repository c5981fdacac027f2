import { ConfigError } from '@circuit-tuning/contracts';
import { embeddingLookup, tf } from '@circuit-tuning/runtime';
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
  // Pronoun id → its pair, as tables the device can gather from (entries of other ids stay 0; so
  // does `isPronoun`). Built on the device so that no step reads the batch back (a GPU backend
  // cannot read synchronously under Node: docs/runtime.md §7).
  const size = Math.max(0, ...pairs.keys()) + 1;
  const maleIds = new Int32Array(size);
  const femaleIds = new Int32Array(size);
  const isPronoun = new Float32Array(size);
  for (const [id, [male, female]] of pairs) {
    maleIds[id] = male;
    femaleIds[id] = female;
    isPronoun[id] = 1;
  }
  return (logits, ids, weights) =>
    tf.tidy(() => {
      const [batch, seq, vocab] = logits.shape;
      const nll = nextTokenLoss(logits, ids, weights);
      if (seq < 2) return nll;
      const rows = batch * (seq - 1);
      // Position t predicts token t + 1; ids past the tables' end are no pronoun.
      const next = tf.minimum(tf.reshape(tf.slice(ids, [0, 1], [batch, seq - 1]), [rows]), tf.scalar(size, 'int32')) as tf.Tensor1D;
      const lookup = (table: Int32Array | Float32Array) => tf.gather(tf.concat([tf.tensor1d(table), tf.zeros([1], table instanceof Int32Array ? 'int32' : 'float32')]), next);
      const counted = tf.mul(lookup(isPronoun), tf.cast(tf.notEqual(tf.reshape(tf.slice(weights, [0, 0], [batch, seq - 1]), [rows]), 0), 'float32'));
      // logit(male form) − logit(female form) at each position, looked up in the flat logits as
      // rows of one value (embeddingLookup: gather's own gradient has no wasm kernel).
      const flat = tf.reshape(tf.slice(logits, [0, 0, 0], [batch, seq - 1, vocab]), [rows * vocab, 1]) as tf.Tensor2D;
      const rowStart = tf.mul(tf.range(0, rows, 1, 'int32'), tf.scalar(vocab, 'int32'));
      const at = (table: Int32Array) => tf.reshape(embeddingLookup(flat, tf.add(rowStart, lookup(table))), [rows]);
      const gap = tf.sub(at(maleIds), at(femaleIds));
      // A batch without pronouns adds exactly 0: plain NLL.
      const count = tf.maximum(tf.sum(counted), 1);
      return tf.add(nll, tf.div(tf.mul(beta, tf.sum(tf.mul(tf.abs(gap), counted))), count)) as tf.Scalar;
    });
}
