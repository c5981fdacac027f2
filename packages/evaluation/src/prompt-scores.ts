import { validatePromptRow } from '@circuit-tuning/contracts';
import type { TransformerModel } from '@circuit-tuning/model';
import { tf } from '@circuit-tuning/runtime';

/** One prompt to score: token ids, the position whose next-token logits are read, two candidates. */
export interface ScoredPrompt {
  ids: ArrayLike<number>;
  pos: number;
  answer: number;
  foil: number;
}

/** Per-prompt scores at the prediction position. */
export interface PromptScores {
  /** logit(answer) − logit(foil) */
  logitDiff: Float32Array;
  /** softmax probability of the answer and of the foil over the whole vocabulary */
  pAnswer: Float32Array;
  pFoil: Float32Array;
  /** −log p(answer) */
  answerLoss: Float32Array;
}

/**
 * Scores prompts in batches. Prompts of different lengths are right-padded within a batch: with
 * causal attention the padding after `pos` cannot change the logits at `pos`.
 */
export async function scorePrompts(
  model: TransformerModel,
  prompts: readonly ScoredPrompt[],
  options: { batchSize?: number; padId?: number } = {},
): Promise<PromptScores> {
  const batchSize = options.batchSize ?? 32;
  const padId = options.padId ?? 0;
  const n = prompts.length;
  const out: PromptScores = {
    logitDiff: new Float32Array(n),
    pAnswer: new Float32Array(n),
    pFoil: new Float32Array(n),
    answerLoss: new Float32Array(n),
  };
  prompts.forEach((p, i) => {
    checkPrompt(model, p, i);
  });
  for (let start = 0; start < n; start += batchSize) {
    const chunk = prompts.slice(start, start + batchSize);
    const seq = Math.max(...chunk.map((p) => p.ids.length));
    const ids = new Int32Array(chunk.length * seq).fill(padId);
    chunk.forEach((p, row) => {
      ids.set(Array.from(p.ids), row * seq);
    });
    const vocab = model.config.vocabSize;
    const rows = tf.tidy(() => {
      const logits = tf.reshape(model.logits(tf.tensor2d(ids, [chunk.length, seq], 'int32')), [chunk.length * seq, vocab]);
      // Pick each prompt's prediction row with a one-hot product (gather has no gradient kernel on wasm;
      // here it would be fine, but one code path is easier to trust).
      const pick = new Float32Array(chunk.length * chunk.length * seq);
      chunk.forEach((p, row) => {
        pick[row * chunk.length * seq + row * seq + p.pos] = 1;
      });
      const atPos = tf.matMul(tf.tensor2d(pick, [chunk.length, chunk.length * seq]), logits); // [chunk, vocab]
      return tf.concat([atPos, tf.logSoftmax(atPos)], 1);
    });
    const values = (await rows.data()) as Float32Array;
    rows.dispose();
    chunk.forEach((p, row) => {
      const base = row * 2 * vocab;
      const i = start + row;
      out.logitDiff[i] = values[base + p.answer]! - values[base + p.foil]!;
      out.pAnswer[i] = Math.exp(values[base + vocab + p.answer]!);
      out.pFoil[i] = Math.exp(values[base + vocab + p.foil]!);
      out.answerLoss[i] = -values[base + vocab + p.answer]!;
    });
  }
  return out;
}

/** The shared prompt-row checks (contracts' validatePromptRow) for a caller that passes rows, not a file. */
function checkPrompt(model: TransformerModel, p: ScoredPrompt, index: number): void {
  validatePromptRow({ id: index, clean: p.ids, pos: p.pos, answer: p.answer, foil: p.foil }, index, { source: 'prompts', limits: model.config });
}

/** Fraction of prompts whose answer outscores the foil. */
export function accuracy(logitDiff: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < logitDiff.length; i++) if (logitDiff[i]! > 0) correct++;
  return logitDiff.length === 0 ? Number.NaN : correct / logitDiff.length;
}

export function mean(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return values.length === 0 ? Number.NaN : total / values.length;
}
