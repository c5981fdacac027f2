import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@circuit-tuning/contracts';
import { createWordLevelTokenizer, gpt2Config, TransformerModel } from '@circuit-tuning/model';
import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { SequenceDataset } from '../data/batches';
import { DebiasConfig, debiasObjective, pronounPairIds } from './debias';
import { nextTokenLoss } from './loss';
import { runTraining } from './run-training';
import { TrainConfig } from './train-config';

beforeAll(() => ensureBackend());

// Vocabulary: 0 pad, 1 the, 2 nurse, 3 he, 4 she, 5 him, 6 her.
const vocab = ['<pad>', 'the', 'nurse', 'he', 'she', 'him', 'her'];
const pairs = pronounPairIds(DebiasConfig.parse({ pairs: [['he', 'she'], ['him', 'her']] }), (t) => {
  const i = vocab.indexOf(t);
  return i < 0 ? undefined : i;
});

describe('de-biasing objective', () => {
  it('adds β·|logit(male) − logit(female)| averaged over pronoun-predicting positions', () => {
    const ids = tf.tensor2d([[1, 2, 3, 0], [1, 2, 6, 0]], [2, 4], 'int32');
    const weights = tf.tensor2d([[1, 1, 1, 0], [1, 1, 1, 0]], [2, 4]);
    const values = new Float32Array(2 * 4 * 7);
    // Position 1 predicts the pronoun: row 0 has logit(he) − logit(she) = 2, row 1 logit(him) − logit(her) = −1.
    values[(0 * 4 + 1) * 7 + 3] = 2;
    values[(1 * 4 + 1) * 7 + 6] = 1;
    const logits = tf.tensor3d(values, [2, 4, 7]);
    const nll = nextTokenLoss(logits, ids, weights).dataSync()[0]!;
    const total = debiasObjective(0.5, pairs)(logits, ids, weights).dataSync()[0]!;
    expect(total - nll).toBeCloseTo(0.5 * ((2 + 1) / 2), 5);
    tf.dispose([ids, weights, logits]);
  });

  it('is plain NLL on a batch without pronouns, and skips zero-weight positions', () => {
    const ids = tf.tensor2d([[1, 2, 1, 3]], [1, 4], 'int32');
    const weights = tf.tensor2d([[1, 1, 0, 0]], [1, 4]);
    const logits = tf.randomNormal([1, 4, 7], 0, 1, 'float32', 3) as tf.Tensor3D;
    const nll = nextTokenLoss(logits, ids, weights).dataSync()[0]!;
    expect(debiasObjective(2, pairs)(logits, ids, weights).dataSync()[0]!).toBeCloseTo(nll, 6);
    tf.dispose([ids, weights, logits]);
  });

  it('pushes the gap towards zero: the gradient of the penalty raises the lower form', () => {
    const ids = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32');
    const weights = tf.tensor2d([[0, 1, 0]], [1, 3]);
    const values = new Float32Array(3 * 7);
    values[1 * 7 + 3] = 3; // he far above she
    const logits = tf.tensor3d(values, [1, 3, 7]);
    const plain = tf.grad((l: tf.Tensor) => nextTokenLoss(l as tf.Tensor3D, ids, weights))(logits).arraySync() as number[][][];
    const debiased = tf.grad((l: tf.Tensor) => debiasObjective(1, pairs)(l as tf.Tensor3D, ids, weights))(logits).arraySync() as number[][][];
    expect(debiased[0]![1]![3]! - plain[0]![1]![3]!).toBeCloseTo(1, 5);
    expect(debiased[0]![1]![4]! - plain[0]![1]![4]!).toBeCloseTo(-1, 5);
    tf.dispose([ids, weights, logits]);
  });

  it('refuses a pronoun the vocabulary lacks', () => {
    expect(() => pronounPairIds(DebiasConfig.parse({ pairs: [['he', 'xe']] }), () => undefined)).toThrow(ConfigError);
  });

  it('is what a run with debias trains on: the first loss is above plain NLL', async () => {
    const tokenizer = createWordLevelTokenizer({ words: ['the', 'nurse', 'said', 'that', 'he', 'she', 'was', 'tired'] });
    const encode = (text: string) => [tokenizer.bosTokenId!, ...tokenizer.encode(text)];
    const docs = ['the nurse said that he was tired', 'the nurse said that she was tired'].map(encode);
    const train = SequenceDataset.padded(docs.map((ids) => ({ ids })), { padId: tokenizer.padTokenId ?? 0, maxSeq: 16 });
    const config = gpt2Config({ nLayers: 1, nHeads: 2, dModel: 16, vocabSize: tokenizer.vocabSize, maxPositions: 16 });
    const firstLoss = async (debias: unknown) => {
      const model = await TransformerModel.random(config, 3, tokenizer);
      const trainConfig = TrainConfig.parse({ steps: 1, batchSize: 2, seqLen: 16, ...(debias ? { debias } : {}) });
      const { log } = await runTraining({ model, train, config: trainConfig, seed: 1, runDir: await mkdtemp(join(tmpdir(), 'ct-debias-')), producer: 'test' });
      model.dispose();
      return Number(log[0]!.loss);
    };
    const plain = await firstLoss(undefined);
    expect(await firstLoss({ beta: 5, pairs: [['he', 'she']] })).toBeGreaterThan(plain);
    const untokenized = await TransformerModel.random(config, 3);
    const trainConfig = TrainConfig.parse({ steps: 1, batchSize: 2, seqLen: 16, debias: {} });
    await expect(runTraining({ model: untokenized, train, config: trainConfig, seed: 1, runDir: await mkdtemp(join(tmpdir(), 'ct-debias-')), producer: 'test' })).rejects.toThrow(ConfigError);
    untokenized.dispose();
  });
});
