import type { TransformerModel } from '@circuit-tuning/model';
import { nextTokenCrossEntropy, tf } from '@circuit-tuning/runtime';

/**
 * Perplexity exp(mean NLL) of next-token prediction over token sequences (each scored on its
 * own, positions 0 … len-2 predicting 1 … len-1), batched by right-padding.
 */
export async function perplexity(model: TransformerModel, sequences: readonly ArrayLike<number>[], options: { batchSize?: number } = {}): Promise<{ perplexity: number; meanLoss: number; tokens: number }> {
  const batchSize = options.batchSize ?? 16;
  let totalLoss = 0;
  let tokens = 0;
  for (let start = 0; start < sequences.length; start += batchSize) {
    const chunk = sequences.slice(start, start + batchSize).filter((s) => s.length > 1);
    if (chunk.length === 0) continue;
    const seq = Math.min(model.config.maxPositions, Math.max(...chunk.map((s) => s.length)));
    const ids = new Int32Array(chunk.length * seq);
    const weights = new Float32Array(chunk.length * seq);
    chunk.forEach((s, row) => {
      const length = Math.min(seq, s.length);
      ids.set(Array.from(s).slice(0, length), row * seq);
      for (let t = 0; t < length - 1; t++) weights[row * seq + t] = 1;
    });
    const sum = tf.tidy(() => {
      const x = tf.tensor2d(ids, [chunk.length, seq], 'int32');
      const w = tf.slice(tf.tensor2d(weights, [chunk.length, seq]), [0, 0], [chunk.length, seq - 1]);
      return tf.sum(tf.mul(nextTokenCrossEntropy(model.logits(x), x), w));
    });
    totalLoss += (await sum.data())[0]!;
    sum.dispose();
    tokens += weights.reduce((a, b) => a + b, 0);
  }
  const meanLoss = tokens > 0 ? totalLoss / tokens : Number.NaN;
  return { perplexity: Math.exp(meanLoss), meanLoss, tokens };
}
