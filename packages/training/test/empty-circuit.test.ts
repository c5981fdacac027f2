import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CircuitLogTable, RuntimeError, TrainLogTable } from '@circuit-tuning/contracts';
import { loadModel, type TransformerModel } from '@circuit-tuning/model';
import { ensureBackend, readArrowTable, runStage, silentReporter } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { circuitTuningStage } from '../src/stages';
import { fixture, promptsFixture } from './fixtures';

beforeAll(() => ensureBackend());

// Top-N 1 always gives a circuit that owns no parameters: its one edge is input→logits, or a
// dangling edge that pruning removes.
const config = (overrides: Record<string, unknown>) => ({
  steps: 6,
  batchSize: 4,
  seqLen: 16,
  learningRate: 0.05,
  discovery: { prompts: 8 },
  circuitLogEvery: 1,
  topN: { start: 1 },
  ...overrides,
});

async function weightsOf(model: TransformerModel): Promise<Float32Array[]> {
  return Promise.all(model.params.names().map(async (n) => (await model.params.get(n).data()) as Float32Array));
}

async function setup() {
  const { dir, modelDir, texts } = await fixture();
  return { dir, modelDir, inputs: { model: modelDir, train: texts, prompts: await promptsFixture(dir) } };
}

describe('a top-N above the graph', () => {
  it('is said in the log (every edge is kept), not clamped quietly', async () => {
    const { dir, inputs } = await setup();
    const stageDir = join(dir, 'above');
    await runStage(circuitTuningStage, { stageDir, inputs, config: config({ steps: 1, topN: { start: 100_000 } }), seed: 1, reporter: silentReporter });
    const warning = readFileSync(join(stageDir, 'log.jsonl'), 'utf8')
      .split('\n')
      .find((line) => line.includes('"topN"'));
    expect(warning).toMatch(/topN 100,000 is above the [\d,]+ edges of the graph: such steps keep every edge/);
  });
});

describe('empty circuits follow the emptyCircuit policy, and every such step is said', () => {
  it("'error' (the default) stops the run at the first empty circuit", async () => {
    const { dir, inputs } = await setup();
    const run = runStage(circuitTuningStage, { stageDir: join(dir, 'error'), inputs, config: config({}), seed: 1, reporter: silentReporter });
    await expect(run).rejects.toThrow(RuntimeError);
    await expect(run).rejects.toThrow(/step 0: the circuit found at step 0 owns no parameters \(\d+ edges, top-N 1\), so the step would train nothing/);
  });

  it("'skip-step' trains nothing on those steps, marks them in the log table and the JSONL log, and counts them", async () => {
    const { dir, modelDir, inputs } = await setup();
    const stageDir = join(dir, 'skip');
    const result = await runStage(circuitTuningStage, { stageDir, inputs, config: config({ emptyCircuit: 'skip-step' }), seed: 1, reporter: silentReporter });
    const log = (await readArrowTable(result.outputs.train_log!, TrainLogTable)).columns;
    expect(log.empty_circuit).toEqual(Array(6).fill('skipped'));
    expect(Array.from(log.trainable_parameters)).toEqual(Array(6).fill(0));
    expect(result.manifest.summary).toMatchObject({ emptyCircuit: 'skip-step', emptyCircuitSteps: 6 });
    const warnings = readFileSync(join(stageDir, 'log.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.includes('"emptyCircuit"'))
      .map((line) => JSON.parse(line) as { level: string; fields: { step: number; emptyCircuit: string } });
    expect(warnings.map((w) => [w.level, w.fields.step, w.fields.emptyCircuit])).toEqual([0, 1, 2, 3, 4, 5].map((s) => ['warn', s, 'skipped']));
    const [before, after] = [await loadModel(modelDir), await loadModel(result.outputs.model!)];
    expect(await weightsOf(after)).toEqual(await weightsOf(before));
    before.dispose();
    after.dispose();
  });

  it("'keep-previous' trains the last circuit that owned parameters", async () => {
    const { dir, inputs } = await setup();
    // Top-N falls from 12 (a circuit with heads and the MLP) to 1 (empty) over 4 steps.
    const run = config({ emptyCircuit: 'keep-previous', topN: { start: 12, end: 1, steps: 4 } });
    const result = await runStage(circuitTuningStage, { stageDir: join(dir, 'keep'), inputs, config: run, seed: 1, reporter: silentReporter });
    const log = (await readArrowTable(result.outputs.train_log!, TrainLogTable)).columns;
    const kept = log.empty_circuit.flatMap((action, step) => (action === 'kept-previous' ? [step] : []));
    expect(kept.length).toBeGreaterThan(0);
    expect(log.empty_circuit.filter((a) => a === 'skipped')).toEqual([]);
    expect(result.manifest.summary).toMatchObject({ emptyCircuitSteps: kept.length });
    const circuitLog = (await readArrowTable(result.outputs.circuit_log!, CircuitLogTable)).columns;
    const edgesAt = (step: number) => circuitLog.edge.filter((_, i) => circuitLog.step[i] === step).sort();
    const lastFound = kept[0]! - 1;
    for (const step of kept) {
      expect(log.trainable_parameters[step]).toBe(log.trainable_parameters[lastFound]);
      expect(log.trainable_parameters[step]).toBeGreaterThan(0);
      expect(edgesAt(step)).toEqual(edgesAt(lastFound));
    }
  });
});
