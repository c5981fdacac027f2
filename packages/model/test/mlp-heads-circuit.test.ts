import type { ModelGraph } from '@circuit-tuning/contracts';
import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CircuitRun, disposeWriters, gpt2Config, llamaConfig, type ModelConfig, type ReaderProbes, TransformerModel, type WriterOutputs } from '../src/index';
import { blockPrefix } from '../src/transformer/parameter-names';
import { maxAbsDiff } from './shared-data';

/**
 * The edge-masked forward on a graph whose MLPs are split into MLP heads (docs/method.md §1): MLP
 * head j is a reader (its masked input feeds only its neurons: LN, its W_in/W_gate columns and
 * b_in entries) and a writer (its neurons' rows of W_out); b_out belongs to no node.
 */
const K = 4;
const cases: [string, ModelConfig][] = [
  ['GPT-2', gpt2Config({ nLayers: 2, nHeads: 4, dModel: 32, vocabSize: 40, maxPositions: 16 })],
  ['Llama (gated MLP, grouped k/v)', llamaConfig({ nLayers: 2, nHeads: 4, nKvHeads: 2, dModel: 32, dMlp: 64, vocabSize: 40, maxPositions: 16 })],
];
const models: TransformerModel[] = [];
beforeAll(async () => {
  await ensureBackend();
  for (const [, config] of cases) {
    const model = await TransformerModel.random(config, 3);
    // Larger weights than the 0.02 init, so that every MLP head matters to the logits.
    model.params.assign(new Map(model.params.entries().map(([name, v]) => [name, tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.2, 'float32', 4)))])));
    models.push(model);
  }
});
afterAll(() => {
  for (const m of models) m.dispose();
});

const clean = [
  [1, 7, 3, 9, 12, 5],
  [4, 2, 8, 8, 30, 11],
];
const corrupt = [
  [1, 7, 3, 21, 12, 5],
  [4, 2, 19, 8, 30, 11],
];
const ids = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');

/**
 * A naive reference of the masked run that never touches the circuit code: the probed forward
 * (each reader's input = the plain residual + its probe) with probes chosen so that every reader
 * reads x_v = Σ_u (keep ? a_u : ablated(a_u)) + the biases no node owns, the a_u being the writers
 * of the run itself. A layer's heads depend on the readers before them and its MLP heads on those
 * heads, so 2L + 2 rounds of "probe from the last round's writers" reach the fixed point exactly.
 */
function naiveMaskedLogits(model: TransformerModel, graph: ModelGraph, keep: Float32Array, ablated: WriterOutputs): Float32Array {
  const { nLayers, nHeads } = model.config;
  const bias = (name: string) => (model.params.has(name) ? model.params.get(name) : undefined);
  // Writer outputs in graph writer order, each [tokens, dModel] (ablated ones broadcast).
  const writerList = (w: WriterOutputs): tf.Tensor[] => [w.input, ...w.heads.flatMap((h, l) => [...tf.unstack(h), ...tf.unstack(w.mlpHeads![l]!)])];
  const ablatedList = writerList(ablated);
  let writers: WriterOutputs | undefined;
  let logits: Float32Array | undefined;
  for (let round = 0; round <= 2 * nLayers + 1; round++) {
    const current = writers ? writerList(writers) : ablatedList;
    // Σ of b_O / b_out of the layers before writer index `upstream`, and the plain residual there.
    const unowned = (upstream: number): tf.Tensor => {
      let sum: tf.Tensor = tf.zeros([1, model.config.dModel]);
      for (let l = 0; l < nLayers; l++) {
        const bO = bias(`${blockPrefix(l)}.attn.b_O`);
        const bOut = bias(`${blockPrefix(l)}.mlp.b_out`);
        if (bO && graph.firstHeadWriter[l]! + nHeads <= upstream) sum = tf.add(sum, bO);
        if (bOut && graph.mlpWriter[l]! + K <= upstream) sum = tf.add(sum, bOut);
      }
      return sum;
    };
    const readerInput = (reader: number, plain: boolean) => {
      const count = graph.upstreamCount[reader]!;
      let x = unowned(count);
      for (let u = 0; u < count; u++) x = tf.add(x, plain || keep[graph.edgeOffset[reader]! + u] ? current[u]! : ablatedList[u]!);
      return x; // [tokens, dModel]
    };
    const probe = (reader: number) => tf.sub(readerInput(reader, false), readerInput(reader, true));
    const probes: ReaderProbes = tf.tidy(() => ({
      attention: Array.from({ length: nLayers }, (_, l) => {
        const first = graph.readerIndex(`a${l}.h0<q>`);
        // Letter-major slots (q heads, k heads, v heads); graph readers are head-major.
        const slots = ['q', 'k', 'v'].flatMap((_, letter) => Array.from({ length: nHeads }, (_, h) => probe(first + h * 3 + letter)));
        return tf.stack(slots) as tf.Tensor3D;
      }),
      mlp: Array.from({ length: nLayers }, () => tf.zeros([1, model.config.dModel]) as tf.Tensor2D),
      mlpHeads: Array.from({ length: nLayers }, (_, l) => tf.stack(Array.from({ length: K }, (_, j) => probe(graph.readerIndex(`m${l}.n${j}`)))) as tf.Tensor3D),
      logits: probe(graph.readerIndex('logits')) as tf.Tensor2D,
    }));
    const out = tf.tidy(() => model.forward(ids(clean), { probes, captureWriters: true, mlpHeads: K }));
    tf.dispose([probes.attention, probes.mlp, probes.mlpHeads!, probes.logits]);
    if (writers) disposeWriters(writers);
    writers = out.writers!;
    logits = out.logits.dataSync() as Float32Array;
    out.logits.dispose();
  }
  disposeWriters(writers!);
  return logits!;
}

describe('edge-masked forward with MLP heads', () => {

  cases.forEach(([name], index) => {
    const setup = () => {
      const model = models[index]!;
      const graph = model.graph({ mlpHeadWidth: model.config.dMlp / K });
      const ablated = tf.tidy(() => model.forward(ids(corrupt), { captureWriters: true, mlpHeads: K }).writers!);
      const masked = (keep: Float32Array) => tf.tidy(() => model.forward(ids(clean), { circuit: { graph, keep, ablated } satisfies CircuitRun }).logits.dataSync());
      return { model, graph, ablated, masked };
    };

    it(`${name}: with every edge kept equals the unsplit forward, with none the corrupted run`, () => {
      const { model, graph, ablated, masked } = setup();
      const plain = tf.tidy(() => model.logits(ids(clean)).dataSync());
      const corrupted = tf.tidy(() => model.logits(ids(corrupt)).dataSync());
      expect(maxAbsDiff(masked(new Float32Array(graph.edgeCount).fill(1)), plain)).toBeLessThan(1e-4);
      expect(maxAbsDiff(masked(new Float32Array(graph.edgeCount)), corrupted)).toBeLessThan(1e-4);
      disposeWriters(ablated);
    });

    it(`${name}: with edges removed equals a naive reference, and cutting one MLP-head edge changes that head only`, () => {
      const { model, graph, ablated, masked } = setup();
      let state = 11 + index;
      const random = () => {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        return state / 2 ** 31;
      };
      for (let trial = 0; trial < 2; trial++) {
        const keep = Float32Array.from({ length: graph.edgeCount }, () => (random() < 0.6 ? 1 : 0));
        const ours = masked(keep);
        const naive = naiveMaskedLogits(model, graph, keep, ablated);
        const scale = Math.max(...Array.from(naive, Math.abs));
        expect(maxAbsDiff(ours, naive) / scale, `trial ${trial}`).toBeLessThan(1e-4);
      }
      // a0.h1 → m1.n2 feeds MLP head 2 of layer 1 only: its output changes, its siblings' do not.
      const all = new Float32Array(graph.edgeCount).fill(1);
      const cut = all.slice();
      cut[graph.edgeIndex('a0.h1', 'm1.n2')] = 0;
      const heads = (keep: Float32Array) =>
        tf.tidy(() => tf.unstack(model.forward(ids(clean), { circuit: { graph, keep, ablated }, captureWriters: true }).writers!.mlpHeads![1]!).map((t) => t.dataSync()));
      const [before, after] = [heads(all), heads(cut)];
      expect(before.map((h, j) => maxAbsDiff(h, after[j]!) > 1e-6)).toEqual([false, false, true, false]);
      disposeWriters(ablated);
    });
  });

  it('GPT-2: the gradients of every parameter equal the plain forward’s with every edge kept (edge-ablated training differentiates it)', () => {
    const model = models[0]!;
    const graph = model.graph({ mlpHeadWidth: model.config.dMlp / K });
    const ablated = tf.tidy(() => model.forward(ids(corrupt), { captureWriters: true, mlpHeads: K }).writers!);
    const r = tf.randomNormal([2, 6, 40], 0, 1, 'float32', 9);
    const variables = model.params.entries().map(([, v]) => v);
    const gradsOf = (circuit: CircuitRun | undefined) => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.forward(ids(clean), circuit ? { circuit } : {}).logits, r)) as tf.Scalar, variables);
      value.dispose();
      return grads;
    };
    const before = tf.memory().numTensors;
    tf.dispose(Object.values(gradsOf({ graph, keep: new Float32Array(graph.edgeCount).fill(1), ablated })));
    expect(tf.memory().numTensors).toBe(before); // nothing outlives the gradients
    const plain = gradsOf(undefined);
    const allKept = gradsOf({ graph, keep: new Float32Array(graph.edgeCount).fill(1), ablated });
    for (const v of variables) {
      const scale = Math.max(1, ...Array.from(plain[v.name]!.dataSync(), Math.abs));
      expect(maxAbsDiff(allKept[v.name]!.dataSync(), plain[v.name]!.dataSync()) / scale, v.name).toBeLessThan(1e-4);
    }
    tf.dispose([r, ...Object.values(plain), ...Object.values(allKept)]);
    disposeWriters(ablated);
  });

  it('needs the MLP heads’ ablation values, and an mlpHeads option that agrees with the graph', () => {
    const model = models[0]!;
    const graph = model.graph({ mlpHeadWidth: model.config.dMlp / K });
    const ablated = tf.tidy(() => model.forward(ids(corrupt), { captureWriters: true }).writers!); // no mlpHeads
    const keep = new Float32Array(graph.edgeCount).fill(1);
    expect(() => model.forward(ids(clean), { circuit: { graph, keep, ablated } })).toThrow(/no ablation values for the MLP heads of layer 0/);
    expect(() => model.forward(ids(clean), { circuit: { graph, keep, ablated }, mlpHeads: 2 })).toThrow(/mlpHeads is 2, the circuit's graph has 4/);
    disposeWriters(ablated);
  });
});
