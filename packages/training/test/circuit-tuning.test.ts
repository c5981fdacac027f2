import { join } from 'node:path';
import { CircuitLogTable, ParameterMappingConfig, parseEdgeName, TrainLogTable } from '@circuit-tuning/contracts';
import { loadModel, sliceMasks, type TransformerModel } from '@circuit-tuning/model';
import { ensureBackend, readArrowTable, runStage, silentReporter } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { CircuitParameterMap } from '../src/index';
import { circuitTuningStage, fixedCircuitStage, randomCircuitStage } from '../src/stages';
import { fixture, promptsFixture } from './fixtures';

beforeAll(() => ensureBackend());

const config = (overrides: Record<string, unknown> = {}) => ({
  steps: 4,
  batchSize: 4,
  seqLen: 16,
  learningRate: 0.05,
  optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 0.01 },
  topN: { start: 12 },
  discovery: { prompts: 8 },
  circuitLogEvery: 1,
  ...overrides,
});

async function paramsOf(model: TransformerModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of model.params.entries()) out.set(name, (await v.data()) as Float32Array);
  return out;
}

describe('circuit-tuning stages', () => {
  for (const [label, mode, parameterMapping] of [
    ['gradient-mask', 'gradient-mask', {}],
    ['edge-ablated', 'edge-ablated', {}],
    // The fixture's MLP has 64 neurons: 4 MLP heads of 16.
    ['gradient-mask, MLP heads', 'gradient-mask', { mlp: 'heads', mlpHeadWidth: 16 }],
    ['edge-ablated, MLP heads', 'edge-ablated', { mlp: 'heads', mlpHeadWidth: 16 }],
  ] as const) {
    it(`${label}: changes only the exact slices of the circuits it trained; momentum and decay leak nowhere`, async () => {
      const { dir, modelDir, texts } = await fixture();
      const prompts = await promptsFixture(dir);
      const result = await runStage(circuitTuningStage, {
        stageDir: join(dir, `ct-${label.replace(/\W+/g, '-')}`),
        inputs: { model: modelDir, train: texts, prompts },
        config: config({ mode, parameterMapping }),
        seed: 3,
        reporter: silentReporter,
      });
      const circuitLog = await readArrowTable(result.outputs.circuit_log!, CircuitLogTable);
      const trainLog = await readArrowTable(result.outputs.train_log!, TrainLogTable);
      expect(new Set(circuitLog.columns.step)).toEqual(new Set([0, 1, 2, 3]));
      expect(trainLog.columns.circuit_edges.every((e) => e !== null && e > 0 && e <= 12)).toBe(true);
      const before = await loadModel(modelDir);
      const after = await loadModel(result.outputs.model!);
      const total = before.params.count();
      expect(trainLog.columns.trainable_parameters.every((n) => n > 0 && n < total)).toBe(true);
      // Union over steps of what the circuits own: nothing outside it may move.
      const mapping = ParameterMappingConfig.parse(parameterMapping);
      const graph = before.graph(mapping.mlp === 'heads' ? { mlpHeadWidth: mapping.mlpHeadWidth } : {});
      const edges = [...new Set(circuitLog.columns.edge)].map((name) => {
        const { writer, readerNode, qkv } = parseEdgeName(name)!;
        return graph.edgeIndex(writer, qkv ? `${readerNode}<${qkv}>` : readerNode);
      });
      if (mapping.mlp === 'heads') {
        expect(edges.some((e) => /^m\d+\.n\d+/.test(graph.writers[graph.edgeEndpoints().writer[e]!]!.name))).toBe(true);
      }
      const map = new CircuitParameterMap(before.config, graph, mapping);
      const owned = sliceMasks(before.params, map.slicesOf(edges).slices);
      const [a, b] = [await paramsOf(before), await paramsOf(after)];
      let changedInside = 0;
      for (const [name, values] of a) {
        const mask = owned.get(name)?.values;
        const updated = b.get(name)!;
        for (let i = 0; i < values.length; i++) {
          if (mask?.[i]) changedInside += values[i] !== updated[i] ? 1 : 0;
          else expect(updated[i], `${name}[${i}] is outside every circuit`).toBe(values[i]);
        }
      }
      expect(changedInside).toBeGreaterThan(0);
      before.dispose();
      after.dispose();
    });
  }

  it('refuses an MLP-head width that does not divide the MLP, naming the setting', async () => {
    const { dir, modelDir, texts } = await fixture();
    const prompts = await promptsFixture(dir);
    await expect(
      runStage(circuitTuningStage, {
        stageDir: join(dir, 'ct-heads-width'),
        inputs: { model: modelDir, train: texts, prompts },
        config: config({ parameterMapping: { mlp: 'heads', mlpHeadWidth: 24 } }),
        seed: 3,
        reporter: silentReporter,
      }),
    ).rejects.toThrow(/parameterMapping.mlpHeadWidth 24 does not divide the model's 64 MLP neurons/);
  });

  it('random-circuit and fixed-circuit run through the same ports', async () => {
    const { dir, modelDir, texts } = await fixture();
    const prompts = await promptsFixture(dir);
    for (const [name, stage] of [['random', randomCircuitStage], ['fixed', fixedCircuitStage]] as const) {
      const result = await runStage(stage, {
        stageDir: join(dir, name),
        inputs: { model: modelDir, train: texts, prompts },
        config: config({ steps: 3 }),
        seed: 1,
        reporter: silentReporter,
      });
      const circuitLog = await readArrowTable(result.outputs.circuit_log!, CircuitLogTable);
      const perStep = (step: number) => circuitLog.columns.edge.filter((_, i) => circuitLog.columns.step[i] === step).sort();
      if (name === 'fixed') expect(perStep(2)).toEqual(perStep(0));
      else {
        expect(perStep(2)).not.toEqual(perStep(0));
        // A random circuit of the same size: all top-N edges drawn, none pruned away.
        for (const step of [0, 1, 2]) expect(perStep(step)).toHaveLength(12);
      }
    }
  });
});

