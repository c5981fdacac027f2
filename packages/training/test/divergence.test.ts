import { existsSync } from 'node:fs';
import { mkdtemp, readdir, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CircuitTuningError, exitCodeFor, RuntimeError } from '@circuit-tuning/contracts';
import { gpt2Config, loadModel, TransformerModel } from '@circuit-tuning/model';
import { createRng, ensureBackend, runStage, type StageLogger, silentReporter, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { nextTokenLoss, runTraining, SequenceDataset, TrainConfig } from '../src/index';
import { circuitTuningStage, fullTrainingStage } from '../src/stages';
import { fixture, promptsFixture } from './fixtures';

beforeAll(() => ensureBackend());

const config = gpt2Config({ nLayers: 1, nHeads: 2, dModel: 16, vocabSize: 12, maxPositions: 16 });
const train = SequenceDataset.packed(
  Array.from({ length: 60 }, (_, d) => Array.from({ length: 7 }, (_, i) => ((createRng(d).nextInt(10) + i) % 10) + 2)),
  16,
  1,
);
const trainConfig = (overrides: Record<string, unknown> = {}) =>
  TrainConfig.parse({ steps: 8, batchSize: 4, seqLen: 16, learningRate: 3e-3, optimizer: { kind: 'adam' }, checkpointEvery: 1, keepCheckpoints: 2, ...overrides });

async function weights(model: TransformerModel): Promise<Float32Array[]> {
  return Promise.all(model.params.names().map(async (n) => (await model.params.get(n).data()) as Float32Array));
}

const failureOf = (run: Promise<unknown>) =>
  run.then(
    () => undefined,
    (e: unknown) => e as CircuitTuningError,
  );

describe('divergence guard', () => {
  it('a loss far above its running median stops the run; the checkpoint of the diverged weights goes, the one before stays', async () => {
    const runDir = await mkdtemp(join(tmpdir(), 'ct-spike-'));
    const model = await TransformerModel.random(config, 2);
    const error = await failureOf(
      runTraining({
        model,
        train,
        config: trainConfig(),
        seed: 5,
        runDir,
        producer: 'test',
        // The loss at step 5 is measured on the weights of checkpoint step-0000005: those diverged.
        plan: (_batch, step) => ({
          trainable: model.params.names().map((name) => ({ name })),
          loss: (ids, w) => {
            const loss = nextTokenLoss(model.logits(ids), ids, w);
            return step === 5 ? (tf.mul(loss, 1000) as tf.Scalar) : loss;
          },
        }),
      }),
    );
    model.dispose();
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error!.message).toMatch(/^training diverged at step 5: loss \S+ is above 10 × \S+, the median loss of the 5 steps before \(divergence\.lossFactor\)$/);
    const kept = join(runDir, 'checkpoints', 'step-0000004');
    expect(error!.hint).toContain(`the last checkpoint before the divergence is kept: ${kept} (step 4) (removed step-0000005, written after the divergence began)`);
    expect(await readdir(join(runDir, 'checkpoints'))).toEqual(['step-0000003', 'step-0000004']);
    expect(exitCodeFor[error!.kind]).toBe(6);
  });

  for (const learningRate of [1e6, 1e30]) {
    it(`train:full at learning rate ${learningRate}: stops, keeps no diverged weights, and the hint names only a folder that exists`, async () => {
      const { dir, modelDir, texts } = await fixture();
      const stageDir = join(dir, 'stage');
      const error = await failureOf(
        runStage(fullTrainingStage, {
          stageDir,
          inputs: { model: modelDir, train: texts },
          config: { steps: 6, batchSize: 4, seqLen: 16, learningRate, checkpointEvery: 1, keepCheckpoints: 1 },
          seed: 1,
          reporter: silentReporter,
        }),
      );
      expect(error).toBeInstanceOf(RuntimeError);
      expect(error!.message).toMatch(/^training diverged at step 1: /);
      expect(exitCodeFor[error!.kind]).toBe(6);
      const named = /kept: (\S+) \(step/.exec(error!.hint ?? '')?.[1];
      if (named === undefined) expect(error!.hint).toMatch(/^no checkpoint was written before step 1/);
      else expect(existsSync(named)).toBe(true);
      // Whatever checkpoint remains holds weights of the size the run started with, not 1e12.
      for (const name of await readdir(join(stageDir, 'run', 'checkpoints')).catch(() => [])) {
        if (!/^step-\d+$/.test(name)) continue;
        const kept = await loadModel(join(stageDir, 'run', 'checkpoints', name), { tokenizer: 'optional' });
        const largest = Math.max(...(await weights(kept)).map((w) => w.reduce((m, x) => Math.max(m, Math.abs(x)), 0)));
        kept.dispose();
        expect(largest).toBeLessThan(100);
      }
    });
  }
});

describe('divergence under circuit-tuning', () => {
  it('weights made non-finite by an update are divergence at the next rediscovery, not an empty circuit', async () => {
    const { dir, modelDir, texts } = await fixture();
    const prompts = await promptsFixture(dir);
    const error = await failureOf(
      runStage(circuitTuningStage, {
        stageDir: join(dir, 'stage'),
        inputs: { model: modelDir, train: texts, prompts },
        config: { steps: 6, batchSize: 4, seqLen: 16, learningRate: 1e30, checkpointEvery: 1, keepCheckpoints: 1, topN: { start: 20 }, discovery: { prompts: 4 } },
        seed: 1,
        reporter: silentReporter,
      }),
    );
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error!.message).toMatch(/^training diverged at step \d+: /);
    expect(exitCodeFor[error!.kind]).toBe(6);
  });
});

describe('torn checkpoints', () => {
  for (const [what, tear] of [
    ['a truncated weights file', (dir: string) => truncate(join(dir, 'model.safetensors'), 1000)],
    ['a torn trainer state', (dir: string) => writeFile(join(dir, 'trainer_state.json'), '{"step": 4, "configHa')],
    ['a missing optimizer file', (dir: string) => truncate(join(dir, 'optimizer.safetensors'), 0)],
  ] as const) {
    it(`${what}: resume skips it (and says so) for the intact one before it, and ends where an uninterrupted run ends`, async () => {
      const straight = await TransformerModel.random(config, 2);
      await runTraining({ model: straight, train, config: trainConfig({ checkpointEvery: 2 }), seed: 5, runDir: await mkdtemp(join(tmpdir(), 'ct-a-')), producer: 'test' });

      const runDir = await mkdtemp(join(tmpdir(), 'ct-torn-'));
      const interrupted = await TransformerModel.random(config, 2);
      const abort = new AbortController();
      const progress = { total: 8, update: (n: number) => (n === 5 ? abort.abort(new Error('killed')) : undefined), done: () => undefined };
      await expect(
        runTraining({ model: interrupted, train, config: trainConfig({ checkpointEvery: 2 }), seed: 5, runDir, producer: 'test', progress, signal: abort.signal }),
      ).rejects.toThrow('killed');
      interrupted.dispose();
      expect(await readdir(join(runDir, 'checkpoints'))).toEqual(['step-0000002', 'step-0000004']);
      await tear(join(runDir, 'checkpoints', 'step-0000004'));

      const warnings: string[] = [];
      const logger: StageLogger = { debug: () => undefined, info: () => undefined, warn: (message) => warnings.push(message) };
      const resumed = await TransformerModel.random(config, 99);
      const { resumedFrom } = await runTraining({ model: resumed, train, config: trainConfig({ checkpointEvery: 2 }), seed: 5, runDir, producer: 'test', logger });
      expect(resumedFrom).toBe(2);
      expect(warnings).toEqual([expect.stringMatching(/^checkpoint step-0000004 is damaged and is skipped: .*step-0000004/)]);
      expect(await weights(resumed)).toEqual(await weights(straight));
      straight.dispose();
      resumed.dispose();
    });
  }
});
