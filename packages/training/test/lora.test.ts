import { join } from 'node:path';
import { loadModel } from '@circuit-tuning/model';
import { TrainLogTable } from '@circuit-tuning/contracts';
import { ensureBackend, readArrowTable, runStage, silentReporter, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { LoraAdapters, LoraConfig } from '../src/index';
import { loraTrainingStage } from '../src/stages';
import { fixture } from './fixtures';

beforeAll(() => ensureBackend());

describe('LoRA', () => {
  it('starts exactly at the base model, and merging reproduces the adapted model', async () => {
    const { modelDir } = await fixture();
    const model = await loadModel(modelDir);
    const adapters = new LoraAdapters(model, LoraConfig.parse({ rank: 2 }), 1);
    const ids = tf.tensor2d([[2, 3, 4, 5, 6]], undefined, 'int32');
    const base = tf.tidy(() => model.logits(ids).dataSync());
    const adapted = tf.tidy(() => model.forward(ids, {}, adapters).logits.dataSync());
    expect(Array.from(adapted)).toEqual(Array.from(base));
    for (const [name, v] of adapters.variables) if (name.endsWith('lora_B')) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', 3));
    const changed = tf.tidy(() => model.forward(ids, {}, adapters).logits.dataSync());
    expect(Math.max(...changed.map((x, i) => Math.abs(x - base[i]!)))).toBeGreaterThan(1e-3);
    adapters.merge();
    const merged = tf.tidy(() => model.logits(ids).dataSync());
    expect(Math.max(...merged.map((x, i) => Math.abs(x - changed[i]!)))).toBeLessThan(1e-5);
    // rank·(in+out) per adapted matrix: W_Q, W_K, W_V [16,16], W_O [16,16], W_in [16,64], W_out [64,16]
    expect(adapters.count()).toBe(2 * (4 * 32 + 2 * 80));
    tf.dispose(ids);
    adapters.dispose();
    model.dispose();
  });

  it('train:lora trains only adapters and writes a merged plain checkpoint', async () => {
    const { dir, modelDir, texts } = await fixture();
    const result = await runStage(loraTrainingStage, {
      stageDir: join(dir, 'lora'),
      inputs: { model: modelDir, train: texts, dev: texts },
      config: { steps: 4, batchSize: 4, seqLen: 16, learningRate: 1e-2, optimizer: { kind: 'adam' }, lora: { rank: 2 }, evalEvery: 2 },
      seed: 1,
      reporter: silentReporter,
    });
    expect(result.manifest.summary?.trainableParameters).toBe(2 * (4 * 32 + 2 * 80));
    // Evaluation goes through the adapters: the dev loss moves as they train.
    const log = await readArrowTable(result.outputs.train_log!, TrainLogTable);
    const evals = log.columns.eval_loss.filter((x): x is number => x !== null);
    expect(evals).toHaveLength(2);
    expect(evals[1]).not.toBe(evals[0]);
    const [before, after] = [await loadModel(modelDir), await loadModel(result.outputs.model!)];
    const differs = (name: string) => Math.max(...before.params.get(name).dataSync().map((x, i) => Math.abs(x - after.params.get(name).dataSync()[i]!)));
    expect(differs('blocks.0.attn.W_Q')).toBeGreaterThan(0);
    expect(differs('embed.W_E')).toBe(0);
    expect(differs('blocks.0.ln1.w')).toBe(0);
    before.dispose();
    after.dispose();
  });
});
