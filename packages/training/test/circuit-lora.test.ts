/**
 * train:circuit-lora (docs/method.md §4.8): low-rank adapters on exactly the matrix slices of the
 * circuit's nodes, rediscovered like circuit-tuning. Every step is checkpointed, so the adapters
 * can be read before and after each step: an adapter outside that step's circuit never changes,
 * the merged checkpoint is base + (α/r)·A·B on exactly the trained slices and bitwise the base
 * elsewhere, and a run stopped mid-way and resumed equals the uninterrupted run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CircuitLogTable, ParameterMappingConfig, TrainLogTable } from '@circuit-tuning/contracts';
import { llamaConfig, loadModel, readSafetensors, TransformerModel } from '@circuit-tuning/model';
import { ensureBackend, readArrowTable, runStage, type StageReporter, silentReporter, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { CircuitLoraAdapters, CircuitLoraConfig, CircuitParameterMap } from '../src/index';
import { circuitLoraStage } from '../src/stages';
import { fixture, promptsFixture } from './fixtures';

beforeAll(() => ensureBackend());

// Rediscovery every 2 steps, a checkpoint after every step (all kept), every circuit logged.
const config = {
  steps: 6,
  batchSize: 4,
  seqLen: 16,
  learningRate: 0.05,
  optimizer: { kind: 'adam' },
  checkpointEvery: 1,
  keepCheckpoints: 100,
  evalEvery: 3,
  every: 2,
  topN: { start: 6 },
  discovery: { prompts: 8 },
  circuitLogEvery: 1,
  lora: { rank: 4, alpha: 8 },
};

async function setup() {
  const { dir, modelDir, texts } = await fixture();
  const prompts = await promptsFixture(dir);
  return { dir, modelDir, inputs: { model: modelDir, train: texts, dev: texts, prompts } };
}

/** The adapter variables of every checkpoint, by step. */
async function adaptersByStep(stageDir: string): Promise<Map<number, Map<string, Float32Array>>> {
  const root = join(stageDir, 'run', 'checkpoints');
  const out = new Map<number, Map<string, Float32Array>>();
  for (const name of readdirSync(root).sort()) {
    const file = await readSafetensors(join(root, name, 'extra_variables.safetensors'));
    out.set(Number(name.replace('step-', '')), new Map([...file.tensors].map(([key, t]) => [key, t.data as Float32Array])));
  }
  return out;
}

/** The adapters circuit-lora builds for this model, to map a logged circuit to its adapters' names. */
function adaptersFor(model: TransformerModel): CircuitLoraAdapters {
  const parsed = CircuitLoraConfig.parse(config);
  const graph = model.graph({ includeInputAndLogits: parsed.discovery.graph === 'full' });
  return new CircuitLoraAdapters(model, new CircuitParameterMap(model.config, graph, ParameterMappingConfig.parse({})), parsed.lora, 1);
}

const bits = (values: Float32Array) => new Uint32Array(values.buffer, values.byteOffset, values.length);

describe('train:circuit-lora', () => {
  it('changes exactly the adapters of each step’s circuit, logs their exact count, and merges them into exactly their slices', async () => {
    const { dir, modelDir, inputs } = await setup();
    const stageDir = join(dir, 'circuit-lora');
    const result = await runStage(circuitLoraStage, { stageDir, inputs, config, seed: 1, reporter: silentReporter });
    const base = await loadModel(modelDir);
    const adapters = adaptersFor(base);
    const edgeIndex = new Map(adapters.graph.edgeNames().map((name, i) => [name, i]));
    const circuitLog = (await readArrowTable(result.outputs.circuit_log!, CircuitLogTable)).columns;
    const trainLog = (await readArrowTable(result.outputs.train_log!, TrainLogTable)).columns;
    const snapshots = await adaptersByStep(stageDir);
    expect([...snapshots.keys()]).toEqual([1, 2, 3, 4, 5, 6]);

    // Step 0's adapters are the initial ones: A as drawn, B zero.
    const initial = new Map([...adapters.variables].map(([name, v]) => [name, v.dataSync() as Float32Array]));
    const everTrained = new Set<string>();
    for (let step = 0; step < config.steps; step++) {
      const edges = circuitLog.edge.filter((_, i) => circuitLog.step[i] === step).map((name) => edgeIndex.get(name)!);
      expect(edges.length).toBeGreaterThan(0);
      const inCircuit = new Set(adapters.keysOf(edges));
      expect(inCircuit.size).toBeGreaterThan(0);
      const before = step === 0 ? initial : snapshots.get(step)!;
      const after = snapshots.get(step + 1)!;
      let expectedCount = 0;
      for (const [name, value] of after) {
        const key = name.replace(/\.lora_[AB]$/, '');
        if (inCircuit.has(key)) {
          expectedCount += value.length;
          if (name.endsWith('lora_B')) expect(bits(value)).not.toEqual(bits(before.get(name)!));
        } else {
          expect(bits(value), `${name} at step ${step}`).toEqual(bits(before.get(name)!));
        }
      }
      // The log's count is the adapter entries of the circuit's nodes, exactly.
      expect(Number(trainLog.trainable_parameters[step])).toBe(expectedCount);
      for (const key of inCircuit) everTrained.add(key);
    }
    // Some adapters never trained: the circuits do not cover the graph.
    expect(everTrained.size).toBeLessThan(adapters.size);

    // The merged checkpoint: base + (α/r)·A·B on the slices of adapters that trained, base elsewhere, bitwise.
    const merged = await loadModel(result.outputs.model!);
    const final = snapshots.get(config.steps)!;
    const scale = config.lora.alpha / config.lora.rank;
    for (const name of base.params.names()) {
      const b = base.params.get(name).dataSync() as Float32Array;
      const m = merged.params.get(name).dataSync() as Float32Array;
      const expected = Float32Array.from(b);
      const owned = new Uint8Array(b.length);
      for (const key of everTrained) {
        const match = /^(.*)\.(rows|cols)_(\d+)_(\d+)$/.exec(key)!;
        if (match[1] !== name) continue;
        const [rows, cols] = base.params.get(name).shape as [number, number];
        const [start, end] = [Number(match[3]), Number(match[4])];
        const a = final.get(`${key}.lora_A`)!;
        const bb = final.get(`${key}.lora_B`)!;
        const rank = a.length / (match[2] === 'rows' ? end - start : rows);
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const [i, j, inSlice] = match[2] === 'rows' ? [r - start, c, r >= start && r < end] : [r, c - start, c >= start && c < end];
            if (!inSlice) continue;
            const n = match[2] === 'rows' ? cols : end - start;
            let dot = 0;
            for (let k = 0; k < rank; k++) dot += a[i * rank + k]! * bb[k * n + j]!;
            expected[r * cols + c] = b[r * cols + c]! + scale * dot;
            owned[r * cols + c] = 1;
          }
        }
      }
      for (let i = 0; i < b.length; i++) {
        if (owned[i]) expect(Math.abs(m[i]! - expected[i]!), `${name}[${i}]`).toBeLessThan(1e-5 * (1 + Math.abs(expected[i]!)));
        else if (bits(m.subarray(i, i + 1))[0] !== bits(b.subarray(i, i + 1))[0]) throw new Error(`${name}[${i}] outside the circuit's slices changed: ${b[i]} → ${m[i]}`);
      }
      // Where an adapter trained, the merge did change the weight.
      if (owned.some((o) => o === 1)) expect(m.some((x, i) => owned[i] === 1 && x !== b[i])).toBe(true);
    }
    expect(result.manifest.summary).toMatchObject({ steps: 6, adapters: adapters.size, emptyCircuitSteps: 0 });
    adapters.dispose();
    base.dispose();
    merged.dispose();
  });

  it('a run stopped mid-way and resumed from its checkpoint equals the uninterrupted run, byte for byte', async () => {
    const { dir, inputs } = await setup();
    // Checkpoints every 2 steps, rediscovery every 3: the resumed step 4 trains the circuit of step 3.
    const resumable = { ...config, checkpointEvery: 2, keepCheckpoints: 2, every: 3 };
    const straight = join(dir, 'straight');
    await runStage(circuitLoraStage, { stageDir: straight, inputs, config: resumable, seed: 1, reporter: silentReporter });

    const resumed = join(dir, 'resumed');
    const controller = new AbortController();
    // Stop when step 5's progress arrives (after step 4's update, before any checkpoint of step 5).
    const stopAt5: StageReporter = (event) => {
      if (event.type === 'progress' && event.label === 'steps' && event.completed === 5) controller.abort(new Error('stopped by the test'));
    };
    await expect(runStage(circuitLoraStage, { stageDir: resumed, inputs, config: resumable, seed: 1, reporter: stopAt5, signal: controller.signal })).rejects.toThrow();
    const result = await runStage(circuitLoraStage, { stageDir: resumed, inputs, config: resumable, seed: 1, reporter: silentReporter });
    expect(result.manifest.summary?.resumedFrom).toBe(4);
    for (const name of readdirSync(join(straight, 'model')).sort()) {
      expect(readFileSync(join(resumed, 'model', name)), name).toEqual(readFileSync(join(straight, 'model', name)));
    }
    expect(readFileSync(join(resumed, 'circuit_log.arrow'))).toEqual(readFileSync(join(straight, 'circuit_log.arrow')));
    const logOf = async (stageDir: string) => {
      const { step_ms: _timing, ...rest } = (await readArrowTable(join(stageDir, 'train_log.arrow'), TrainLogTable)).columns;
      return Object.fromEntries(Object.entries(rest).map(([name, values]) => [name, Array.from(values as ArrayLike<unknown>)]));
    };
    expect(await logOf(resumed)).toEqual(await logOf(straight));
  });

  it('Llama (grouped-query attention, gated MLP heads): one adapter per slice, shared k/v columns once, rank capped at the slice, exact counts', async () => {
    const config = llamaConfig({ nLayers: 2, nHeads: 4, nKvHeads: 2, dModel: 32, dMlp: 96, vocabSize: 20, maxPositions: 8 });
    const [d, dHead, width, rank] = [32, 8, 32, 16];
    const model = await TransformerModel.random(config, 3);
    const graph = model.graph({ includeInputAndLogits: true, mlpHeadWidth: width });
    const map = new CircuitParameterMap(config, graph, ParameterMappingConfig.parse({ mlp: 'heads', mlpHeadWidth: width }));
    const adapters = new CircuitLoraAdapters(model, map, { rank, alpha: 32 }, 5);
    const names = [...adapters.variables.keys()].filter((n) => n.startsWith('blocks.1.') && n.endsWith('lora_A'));
    const count = (param: string) => names.filter((n) => n.startsWith(`blocks.1.${param}.`)).length;
    // Per layer: 4 query heads, 2 kv groups for k and v, 4 W_O row blocks, 3 MLP heads on W_in, W_gate, W_out.
    expect([count('attn.W_Q'), count('attn.W_K'), count('attn.W_V'), count('attn.W_O'), count('mlp.W_in'), count('mlp.W_gate'), count('mlp.W_out')]).toEqual([4, 2, 2, 4, 3, 3, 3]);
    // A head's [32, 8] slice: rank capped at 8; an MLP head's [32, 32] slice: rank 16.
    expect(adapters.variables.get('blocks.1.attn.W_Q.cols_8_16.lora_A')!.shape).toEqual([d, dHead]);
    expect(adapters.variables.get('blocks.1.attn.W_Q.cols_8_16.lora_B')!.shape).toEqual([dHead, dHead]);
    expect(adapters.variables.get('blocks.1.mlp.W_out.rows_32_64.lora_A')!.shape).toEqual([width, rank]);
    // a1.h2<k> and a1.h3<k> read group 1's k columns: one adapter; a0.h0 its W_O rows; m0.n2 its
    // W_in and W_gate columns as a reader; m1.n0 its W_out rows as a writer.
    const index = new Map(graph.edgeNames().map((name, i) => [name, i]));
    const edges = ['a0.h0->a1.h2<k>', 'a0.h0->a1.h3<k>', 'input->m0.n2', 'm1.n0->logits'].map((e) => index.get(e)!);
    expect(adapters.keysOf(edges)).toEqual([
      'blocks.0.attn.W_O.rows_0_8',
      'blocks.0.mlp.W_gate.cols_64_96',
      'blocks.0.mlp.W_in.cols_64_96',
      'blocks.1.attn.W_K.cols_8_16',
      'blocks.1.mlp.W_out.rows_0_32',
    ]);
    const step = adapters.activate(map.slicesOf(edges));
    expect(step.count).toBe((dHead + d) * dHead + (dHead + d) * dHead + 2 * (d + width) * rank + (width + d) * rank);
    // Activated but untrained (B = 0): the model reads exactly its base weights.
    const ids = tf.tensor2d([[1, 2, 3, 4]], undefined, 'int32');
    const base = tf.tidy(() => model.logits(ids).dataSync());
    expect(Array.from(tf.tidy(() => model.forward(ids, {}, adapters).logits.dataSync()))).toEqual(Array.from(base));
    tf.dispose(ids);
    adapters.dispose();
    model.dispose();
  });

  it('refuses settings circuit-tuning has but circuit-LoRA does not, naming them', () => {
    expect(() => CircuitLoraConfig.parse({ mode: 'edge-ablated' })).toThrow(/mode/);
    expect(() => CircuitLoraConfig.parse({ lora: { targets: ['W_Q'] } })).toThrow(/targets/);
    expect(CircuitLoraConfig.parse({}).lora).toEqual({ rank: 8, alpha: 16 });
  });
});
