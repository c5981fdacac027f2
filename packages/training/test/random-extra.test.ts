/**
 * The random-activation control (issue 15, circuit/random-extra.ts): circuit-tuning that also
 * trains random nodes outside the circuit each step, until the extra trainable entries reach a
 * ratio of the circuit's own. The exact count, the draw's determinism, and a real training step
 * that changes exactly the circuit's slices and the drawn nodes' slices.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CircuitLogTable, ParameterMappingConfig, parseEdgeName, TrainLogTable } from '@circuit-tuning/contracts';
import { loadModel, sliceMasks, sliceParameterCount, type TransformerModel } from '@circuit-tuning/model';
import { ensureBackend, readArrowTable, runStage, silentReporter } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { CircuitParameterMap, drawRandomExtra } from '../src/index';
import { circuitTuningStage } from '../src/stages';
import { fixture, promptsFixture } from './fixtures';

beforeAll(() => ensureBackend());

async function paramsOf(model: TransformerModel): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of model.params.entries()) out.set(name, (await v.data()) as Float32Array);
  return out;
}

describe('the random-activation control (randomExtra)', () => {
  it('draws whole nodes outside the circuit up to the ratio, exactly counted, the same for one seed and step', async () => {
    const { modelDir } = await fixture();
    const model = await loadModel(modelDir);
    const graph = model.graph();
    const map = new CircuitParameterMap(model.config, graph, ParameterMappingConfig.parse({}));
    // A circuit of one edge: the input into the MLP (the MLP's W_in reader slices).
    const edges = [graph.edgeIndex('input', 'm0')];
    const circuit = { edges, slices: map.slicesOf(edges) };
    const circuitCount = sliceParameterCount(model.params, circuit.slices.slices);
    expect(circuitCount).toBeGreaterThan(0);
    const outside = new Set(map.nodesOutside(edges).map((n) => n.name));
    expect(outside.has('m0')).toBe(false);
    expect(outside.has('input')).toBe(false); // owns nothing
    expect(outside.has('a0.h1<v>')).toBe(true);
    for (const ratio of [0.25, 0.5, 1]) {
      const draw = drawRandomExtra(model.params, map, circuit, { ratio, seed: 11, step: 4 });
      expect(draw.circuitCount).toBe(circuitCount);
      expect(draw.extraNodes.every((n) => outside.has(n))).toBe(true);
      // Exact: the union's entries are the circuit's plus the extra count.
      expect(sliceParameterCount(model.params, draw.slices.slices)).toBe(circuitCount + draw.extraCount);
      // At or above the target, and the smallest such prefix of the drawn nodes.
      expect(draw.extraCount).toBeGreaterThanOrEqual(ratio * circuitCount);
      const withoutLast = drawPrefix(model, map, circuit.slices.slices, draw.extraNodes.slice(0, -1));
      expect(withoutLast - circuitCount).toBeLessThan(ratio * circuitCount);
      // Deterministic per seed and step.
      expect(drawRandomExtra(model.params, map, circuit, { ratio, seed: 11, step: 4 })).toEqual(draw);
    }
    const orders = new Set(
      [0, 1, 2, 3, 4, 5].flatMap((step) => [11, 12].map((seed) => drawRandomExtra(model.params, map, circuit, { ratio: 1, seed, step }).extraNodes.join(','))),
    );
    expect(orders.size).toBeGreaterThan(1);
    // Larger than everything outside: every node outside is drawn.
    expect(new Set(drawRandomExtra(model.params, map, circuit, { ratio: 1e6, seed: 11, step: 4 }).extraNodes)).toEqual(outside);
    model.dispose();
  });

  it('a training step changes the circuit’s slices and the drawn nodes’ slices, nothing else; the log counts both', async () => {
    const { dir, modelDir, texts } = await fixture();
    const prompts = await promptsFixture(dir);
    const seed = 3;
    const result = await runStage(circuitTuningStage, {
      stageDir: join(dir, 'ct-random-extra'),
      inputs: { model: modelDir, train: texts, prompts },
      config: {
        steps: 1,
        batchSize: 4,
        seqLen: 16,
        learningRate: 0.05,
        optimizer: { kind: 'sgd' },
        topN: { start: 3 },
        discovery: { prompts: 8 },
        circuitLogEvery: 1,
        randomExtra: { ratio: 1 },
      },
      seed,
      reporter: silentReporter,
    });
    const circuitLog = await readArrowTable(result.outputs.circuit_log!, CircuitLogTable);
    const trainLog = await readArrowTable(result.outputs.train_log!, TrainLogTable);
    const before = await loadModel(modelDir);
    const after = await loadModel(result.outputs.model!);
    const graph = before.graph();
    const edges = circuitLog.columns.edge.map((name) => {
      const { writer, readerNode, qkv } = parseEdgeName(name)!;
      return graph.edgeIndex(writer, qkv ? `${readerNode}<${qkv}>` : readerNode);
    });
    const map = new CircuitParameterMap(before.config, graph, ParameterMappingConfig.parse({}));
    const circuit = { edges, slices: map.slicesOf(edges) };
    const draw = drawRandomExtra(before.params, map, circuit, { ratio: 1, seed, step: 0 });
    expect(draw.extraNodes.length).toBeGreaterThan(0);
    expect(trainLog.columns.trainable_parameters[0]).toBe(draw.circuitCount + draw.extraCount);
    expect(trainLog.columns.circuit_nodes[0]).toBe(circuit.slices.nodes);
    const inCircuit = sliceMasks(before.params, circuit.slices.slices);
    const trained = sliceMasks(before.params, draw.slices.slices);
    const [a, b] = [await paramsOf(before), await paramsOf(after)];
    let changedOutsideCircuit = 0;
    for (const [name, values] of a) {
      const updated = b.get(name)!;
      for (let i = 0; i < values.length; i++) {
        if (!trained.get(name)?.values[i]) expect(updated[i], `${name}[${i}] is neither in the circuit nor drawn`).toBe(values[i]);
        else if (!inCircuit.get(name)?.values[i] && updated[i] !== values[i]) changedOutsideCircuit++;
      }
    }
    // The drawn nodes did train.
    expect(changedOutsideCircuit).toBeGreaterThan(0);
    before.dispose();
    after.dispose();
  });

  it('says once when the nodes outside the circuit cannot reach the ratio (every one of them then trains)', async () => {
    const { dir, modelDir, texts } = await fixture();
    const prompts = await promptsFixture(dir);
    const stageDir = join(dir, 'ct-short');
    const result = await runStage(circuitTuningStage, {
      stageDir,
      inputs: { model: modelDir, train: texts, prompts },
      config: { steps: 3, batchSize: 4, seqLen: 16, topN: { start: 12 }, discovery: { prompts: 8 }, randomExtra: { ratio: 1000 } },
      seed: 3,
      reporter: silentReporter,
    });
    const warnings = readFileSync(join(stageDir, 'log.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.includes('randomExtra.ratio'))
      .map((line) => JSON.parse(line) as { level: string; fields: { step: number; wanted: number; got: number } });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', fields: { step: 0 } });
    expect(warnings[0]!.fields.got).toBeLessThan(warnings[0]!.fields.wanted);
    const log = (await readArrowTable(result.outputs.train_log!, TrainLogTable)).columns;
    const model = await loadModel(modelDir);
    // Everything outside the circuit trains: all but the frozen embeddings, norms and unembedding.
    expect(Math.max(...Array.from(log.trainable_parameters))).toBeGreaterThan(0.5 * model.params.count());
    model.dispose();
  });

  it('refuses randomExtra with edge-ablated training, naming the setting', async () => {
    const { dir, modelDir, texts } = await fixture();
    const prompts = await promptsFixture(dir);
    const run = runStage(circuitTuningStage, {
      stageDir: join(dir, 'ct-refused'),
      inputs: { model: modelDir, train: texts, prompts },
      config: { steps: 1, batchSize: 4, seqLen: 16, mode: 'edge-ablated', randomExtra: { ratio: 1 } },
      seed: 3,
      reporter: silentReporter,
    });
    await expect(run).rejects.toThrow(/randomExtra trains nodes outside the circuit, which edge-ablated mode ablates/);
  });
});

function drawPrefix(model: TransformerModel, map: CircuitParameterMap, circuitSlices: Parameters<typeof sliceParameterCount>[1], names: string[]): number {
  const byName = new Map(map.nodes().map((n) => [n.name, n.slices]));
  return sliceParameterCount(model.params, [...circuitSlices, ...names.flatMap((n) => byName.get(n)!)]);
}
