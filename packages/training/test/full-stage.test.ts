import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TrainLogTable } from '@circuit-tuning/contracts';
import { loadModel } from '@circuit-tuning/model';
import { ensureBackend, readArrowTable, runStage, silentReporter } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { fullTrainingStage } from '../src/stages';
import { fixture } from './fixtures';

beforeAll(() => ensureBackend());

describe('train:full stage', () => {
  it('trains from scratch, writes a loadable model and its log, and reuses the cache', async () => {
    const { dir, tokenizerDir, texts } = await fixture();
    const stageDir = join(dir, 'stage');
    const options = {
      stageDir,
      inputs: { tokenizer: tokenizerDir, train: texts, dev: texts },
      config: {
        init: { kind: 'scratch', nLayers: 1, nHeads: 2, dModel: 16, maxPositions: 16 },
        packing: 'packed',
        steps: 6,
        batchSize: 4,
        seqLen: 16,
        optimizer: { kind: 'adam' },
        checkpointEvery: 3,
        evalEvery: 3,
      },
      seed: 1,
      reporter: silentReporter,
    };
    const result = await runStage(fullTrainingStage, options);
    const log = await readArrowTable(result.outputs.train_log!, TrainLogTable);
    expect(log.numRows).toBe(6);
    const model = await loadModel(result.outputs.model!);
    expect(model.config.nLayers).toBe(1);
    expect(model.tokenizer!.vocabSize).toBe(10);
    model.dispose();
    expect((await runStage(fullTrainingStage, options)).cached).toBe(true);
  });

  it('needs a tokenizer to start from scratch', async () => {
    const { dir, texts } = await fixture();
    await expect(
      runStage(fullTrainingStage, {
        stageDir: join(dir, 'bad'),
        inputs: { train: texts },
        config: { init: { kind: 'scratch', nLayers: 1, nHeads: 2, dModel: 16, maxPositions: 16 } },
        reporter: silentReporter,
      }),
    ).rejects.toThrow(/needs a tokenizer input/);
  });

  it("refuses a seqLen longer than the model's positions instead of cutting it, and fits the default to the model", async () => {
    const { dir, tokenizerDir, texts } = await fixture();
    const run = (name: string, extra: Record<string, unknown>) =>
      runStage(fullTrainingStage, {
        stageDir: join(dir, name),
        inputs: { tokenizer: tokenizerDir, train: texts },
        config: { init: { kind: 'scratch', nLayers: 1, nHeads: 2, dModel: 16, maxPositions: 8 }, packing: 'packed', steps: 1, batchSize: 2, ...extra },
        reporter: silentReporter,
      });
    await expect(run('too-long', { seqLen: 16 })).rejects.toThrow(/seqLen 16 is longer than the model's 8 positions/);
    // Left out, seqLen is the default (64) or the model's positions if fewer: 8 here.
    const fitted = await run('fitted', {});
    expect(fitted.manifest.status).toBe('succeeded');
    expect(await readFile(join(dir, 'fitted', 'log.jsonl'), 'utf8')).toMatch(/"seq":8/);
  });
});
