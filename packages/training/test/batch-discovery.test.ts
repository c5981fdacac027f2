/**
 * Discovery on the training batch (discovery.on 'batch', the reference code's mode, issue 15):
 * each row's target position scored on its next token's log-probability, with mean ablation.
 */
import { join } from 'node:path';
import { CircuitLogTable, TrainLogTable } from '@circuit-tuning/contracts';
import { loadModel } from '@circuit-tuning/model';
import { ensureBackend, readArrowTable, runStage, silentReporter, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { CircuitTuningConfig } from '../src/circuit/circuit-config';
import { batchTargetPrompts, CircuitPlanner } from '../src/circuit/planner';
import { circuitTuningStage } from '../src/stages';
import { fixture, promptsFixture } from './fixtures';

beforeAll(() => ensureBackend());

describe('circuit discovery on the training batch', () => {
  it('takes each row up to its target position: the highest loss weight, else the last predicting position', () => {
    const batch = {
      // Row 0 weights a target at position 2; row 1 is uniform with padding after position 3; row 2 predicts nothing.
      ids: Int32Array.from([5, 6, 7, 8, 9, 1, 2, 3, 4, 0, 4, 4, 4, 4, 4]),
      weights: Float32Array.from([1, 1, 5, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]),
      batch: 3,
      seq: 5,
    };
    expect(batchTargetPrompts(batch)).toEqual([
      { id: 0, clean: [5, 6, 7], corrupt: undefined, pos: 2, answer: 8, foil: 8 },
      { id: 1, clean: [1, 2, 3], corrupt: undefined, pos: 2, answer: 4, foil: 4 },
    ]);
  });

  it('finds each step’s circuit on its own batch, with neg-loss and mean ablation, and trains it', async () => {
    const { dir, modelDir, texts } = await fixture();
    const prompts = await promptsFixture(dir);
    const result = await runStage(circuitTuningStage, {
      stageDir: join(dir, 'ct-batch'),
      inputs: { model: modelDir, train: texts, prompts },
      config: {
        steps: 4,
        batchSize: 4,
        seqLen: 16,
        learningRate: 0.05,
        optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 0.01 },
        topN: { start: 20 },
        discovery: { on: 'batch', metric: 'neg-loss', ablation: 'mean' },
        emptyCircuit: 'skip-step',
        circuitLogEvery: 1,
      },
      seed: 3,
      reporter: silentReporter,
    });
    const trainLog = (await readArrowTable(result.outputs.train_log!, TrainLogTable)).columns;
    // The metric logged is the batch's mean log-probability of its target tokens: negative, finite.
    expect(trainLog.metric.every((m) => m !== null && Number.isFinite(m) && m < 0)).toBe(true);
    expect(trainLog.trainable_parameters.some((n) => n > 0)).toBe(true);
    const circuitLog = (await readArrowTable(result.outputs.circuit_log!, CircuitLogTable)).columns;
    expect(new Set(circuitLog.step)).toEqual(new Set([0, 1, 2, 3]));
  });

  it('scores the batch it is given: the metric is the mean log-probability of the rows’ target tokens', async () => {
    const { modelDir } = await fixture();
    const model = await loadModel(modelDir);
    const config = CircuitTuningConfig.parse({ steps: 1, batchSize: 2, seqLen: 6, topN: { start: 8 }, discovery: { on: 'batch', metric: 'neg-loss', ablation: 'mean' }, emptyCircuit: 'skip-step' });
    const planner = new CircuitPlanner(model, config, [], 'discover', 5);
    const batch = { ids: Int32Array.from([3, 9, 4, 7, 2, 5, 8, 1, 6, 2, 2, 3]), weights: Float32Array.from([1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0]), batch: 2, seq: 6 };
    const plan = await planner.plan(batch, 0);
    // Row 0’s target: position 4 (next token 5); row 1’s: position 2 (next token 2).
    const expected = tf.tidy(() => {
      const logits = model.forward(tf.tensor2d(batch.ids, [2, 6], 'int32')).logits;
      const logProbs = tf.logSoftmax(logits).arraySync() as number[][][];
      return (logProbs[0]![4]![5]! + logProbs[1]![2]![2]!) / 2;
    });
    expect(plan.log?.metric).toBeCloseTo(expected, 4);
    tf.dispose(plan.dispose ?? []);
    model.dispose();
  });

  it('refuses a metric that needs a foil, naming the settings', async () => {
    const { dir, modelDir, texts } = await fixture();
    const prompts = await promptsFixture(dir);
    const run = runStage(circuitTuningStage, {
      stageDir: join(dir, 'ct-batch-refused'),
      inputs: { model: modelDir, train: texts, prompts },
      config: { steps: 1, batchSize: 4, seqLen: 16, discovery: { on: 'batch', ablation: 'mean' } },
      seed: 3,
      reporter: silentReporter,
    });
    await expect(run).rejects.toThrow(/discovery.on 'batch'.*needs metric 'neg-loss' \(got 'logit-diff'\)/);
  });
});
