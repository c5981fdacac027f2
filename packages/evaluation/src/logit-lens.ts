import { validatePromptRow } from '@circuit-tuning/contracts';
import type { TransformerModel } from '@circuit-tuning/model';
import { tf } from '@circuit-tuning/runtime';
import type { ScoredPrompt } from './prompt-scores';

/**
 * Per-prompt direct logit attribution of every writer to logit(answer) − logit(foil).
 * `heads[layer][head]`, `mlps[layer]`, `input` and `bias` hold one value per prompt; for every
 * prompt they sum to `logitDiff`.
 */
export interface LogitLens {
  heads: Float64Array[][];
  mlps: Float64Array[];
  input: Float64Array;
  /** The biases no node owns: each layer's attention output bias and the final norm's bias. */
  bias: Float64Array;
  /** logit(answer) − logit(foil) of the plain forward pass. */
  logitDiff: Float64Array;
}

/**
 * The logit lens of the writers on the answer-minus-foil direction (as the paper uses it to find the
 * heads that carry subject number). The final residual at the prediction position is exactly the
 * sum of the writers' outputs and the unowned biases (docs/method.md §1); the final norm is linear once
 * its scale is fixed, so with the clean run's scale σ each writer's share of the logit difference is
 *   DLA(w) = (centre(w) / σ) · (γ ⊙ (W_U[answer] − W_U[foil]))
 * (centre: minus its mean over d_model for LayerNorm, nothing for RMSNorm), and the norm's bias β
 * adds β · (W_U[answer] − W_U[foil]). The shares add up to the logit difference exactly.
 */
export async function logitLens(model: TransformerModel, prompts: readonly ScoredPrompt[], options: { batchSize?: number; padId?: number; signal?: AbortSignal } = {}): Promise<LogitLens> {
  const { nLayers, nHeads, vocabSize } = model.config;
  const n = prompts.length;
  const out: LogitLens = {
    heads: Array.from({ length: nLayers }, () => Array.from({ length: nHeads }, () => new Float64Array(n))),
    mlps: Array.from({ length: nLayers }, () => new Float64Array(n)),
    input: new Float64Array(n),
    bias: new Float64Array(n),
    logitDiff: new Float64Array(n),
  };
  prompts.forEach((p, i) => {
    validatePromptRow({ id: i, clean: p.ids, pos: p.pos, answer: p.answer, foil: p.foil }, i, { source: 'prompts', limits: model.config });
  });
  const batchSize = options.batchSize ?? 32;
  const layerNorm = model.config.norm === 'layernorm';
  const unembed = model.params.has('unembed.W_U') ? 'unembed.W_U' : 'embed.W_E';
  for (let start = 0; start < n; start += batchSize) {
    options.signal?.throwIfAborted();
    const chunk = prompts.slice(start, start + batchSize);
    const b = chunk.length;
    const seq = Math.max(...chunk.map((p) => p.ids.length));
    const ids = new Int32Array(b * seq).fill(options.padId ?? 0);
    chunk.forEach((p, row) => {
      ids.set(Array.from(p.ids), row * seq);
    });
    const at = Int32Array.from(chunk, (p, row) => row * seq + p.pos); // token row of each prediction
    const result = tf.tidy(() => {
      const { logits, writers } = model.forward(tf.tensor2d(ids, [b, seq], 'int32'), { captureWriters: true });
      // Everything here, the writers included, is freed by the tidy scope except the result.
      const w = writers!;
      const index = tf.tensor1d(at, 'int32');
      const pick2 = (x: tf.Tensor2D) => tf.gather(x, index, 0) as tf.Tensor2D; // [b, d]
      const input = pick2(w.input);
      const heads = w.heads.map((h) => tf.gather(h, index, 1) as tf.Tensor3D); // per layer [H, b, d]
      const mlps = w.mlps.map(pick2);
      const biases = Array.from({ length: nLayers }, (_, l) => `blocks.${l}.attn.b_O`).filter((name) => model.params.has(name)).map((name) => model.params.get(name));
      const biasSum = biases.length === 0 ? tf.zeros([1, model.config.dModel]) : tf.reshape(tf.addN(biases), [1, model.config.dModel]); // [1, d]
      // The final residual at each prediction: the writers and the unowned biases.
      const residual = tf.addN([input, ...heads.map((h) => tf.sum(h, 0)), ...mlps, tf.broadcastTo(biasSum, input.shape)]) as tf.Tensor2D; // [b, d]
      const variance = layerNorm ? tf.moments(residual, 1, true).variance : tf.mean(tf.square(residual), 1, true);
      const inverseScale = tf.rsqrt(tf.add(variance, model.config.normEps)); // [b, 1]
      const wu = model.params.get(unembed) as tf.Tensor2D; // [vocab, d]
      const pairs = new Float32Array(b * vocabSize);
      chunk.forEach((p, row) => {
        pairs[row * vocabSize + p.answer]! += 1;
        pairs[row * vocabSize + p.foil]! -= 1;
      });
      const difference = tf.matMul(tf.tensor2d(pairs, [b, vocabSize]), wu); // [b, d]: W_U[answer] − W_U[foil]
      const direction = tf.mul(difference, model.params.get('ln_final.w')); // [b, d]
      const centre = (x: tf.Tensor) => (layerNorm ? tf.sub(x, tf.mean(x, -1, true)) : x);
      const share = (x: tf.Tensor) => tf.sum(tf.mul(tf.mul(centre(x), inverseScale), direction), -1); // [..., b]
      const headShares = tf.stack(heads.map(share)); // [L, H, b]
      const mlpShares = tf.stack(mlps.map(share)); // [L, b]
      let biasShare = share(tf.broadcastTo(biasSum, input.shape)); // [b]
      if (model.params.has('ln_final.b')) biasShare = tf.add(biasShare, tf.sum(tf.mul(difference, model.params.get('ln_final.b')), -1));
      // The plain logit difference, for the check Σ shares = logit diff.
      const flat = tf.reshape(logits, [b * seq, vocabSize]);
      const diff = tf.sum(tf.mul(tf.gather(flat, index, 0), tf.tensor2d(pairs, [b, vocabSize])), -1); // [b]
      return tf.concat([tf.reshape(headShares, [-1]), tf.reshape(mlpShares, [-1]), share(input), biasShare, diff]);
    });
    const values = (await result.data()) as Float32Array;
    result.dispose();
    let k = 0;
    for (let l = 0; l < nLayers; l++) for (let h = 0; h < nHeads; h++) for (let r = 0; r < b; r++) out.heads[l]![h]![start + r] = values[k++]!;
    for (let l = 0; l < nLayers; l++) for (let r = 0; r < b; r++) out.mlps[l]![start + r] = values[k++]!;
    for (const target of [out.input, out.bias, out.logitDiff]) for (let r = 0; r < b; r++) target[start + r] = values[k++]!;
  }
  return out;
}

/** Mean and (population) standard deviation of the values at `indices`. */
export function meanStd(values: ArrayLike<number>, indices?: readonly number[]): { mean: number; std: number; n: number } {
  const chosen = indices ?? Array.from({ length: values.length }, (_, i) => i);
  const n = chosen.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n: 0 };
  let sum = 0;
  for (const i of chosen) sum += values[i]!;
  const mean = sum / n;
  let squares = 0;
  for (const i of chosen) squares += (values[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(squares / n), n };
}
