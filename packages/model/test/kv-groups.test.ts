import type { ModelGraph, ParameterMappingConfig } from '@circuit-tuning/contracts';
import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CircuitRun, llamaConfig, parameterSlicesOf, readerSlicesOf, sliceParameterCount, TransformerModel, type WriterOutputs } from '../src/index';
import { maxAbsDiff } from './shared-data';

/**
 * k/v readers per kv group (grouped-query attention, docs/method.md §1): the query heads of a group
 * share one k and one v input. A grouped graph's circuit is therefore the per-head graph's circuit
 * in which the heads of a group keep or ablate their k (v) edges together, and that is what the
 * edge-masked forward must compute.
 */
const config = llamaConfig({ nLayers: 2, nHeads: 4, nKvHeads: 2, dModel: 32, dMlp: 64, vocabSize: 40, maxPositions: 16 });
const mapping: ParameterMappingConfig = { mlp: 'reader-writer', mlpHeadWidth: 16, outputBias: 'heads' };
let model: TransformerModel;
beforeAll(async () => {
  await ensureBackend();
  model = await TransformerModel.random(config, 5);
});
afterAll(() => model.dispose());

const clean = [
  [1, 7, 3, 9, 12, 5],
  [4, 2, 8, 8, 30, 11],
];
const corrupt = [
  [1, 7, 3, 21, 12, 5],
  [4, 2, 19, 8, 30, 11],
];
const ids = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');
const writersOf = (rows: number[][]): WriterOutputs => tf.tidy(() => model.forward(ids(rows), { captureWriters: true }).writers!);
const logitsOf = (graph: ModelGraph, keep: Float32Array, ablated: WriterOutputs) =>
  tf.tidy(() => model.forward(ids(clean), { circuit: { graph, keep, ablated } satisfies CircuitRun }).logits.dataSync());

/** The per-head graph's mask of a grouped graph's mask: each head's k/v edge is its group's. */
function perHeadMask(grouped: ModelGraph, perHead: ModelGraph, keep: Float32Array): Float32Array {
  const out = new Float32Array(perHead.edgeCount);
  const { writer, reader } = perHead.edgeEndpoints();
  const size = config.nHeads / config.nKvHeads;
  for (let e = 0; e < perHead.edgeCount; e++) {
    const r = perHead.readers[reader[e]!]!;
    const w = perHead.writers[writer[e]!]!.name;
    const groupedReader = r.kind === 'head' && r.qkv !== 'q' ? `a${r.layer}.g${Math.floor(r.head / size)}<${r.qkv}>` : r.name;
    out[e] = keep[grouped.edgeIndex(w, groupedReader)]!;
  }
  return out;
}

describe('edge-masked forward on a graph with k/v readers per kv group', () => {
  it('keeps the plain run with every edge, the corrupted run with none', () => {
    const graph = model.graph({ kvReaders: 'groups' });
    expect(graph.shape.kvGroups).toBe(2);
    const ablated = writersOf(corrupt);
    const plain = tf.tidy(() => model.logits(ids(clean)).dataSync());
    const corrupted = tf.tidy(() => model.logits(ids(corrupt)).dataSync());
    expect(maxAbsDiff(logitsOf(graph, new Float32Array(graph.edgeCount).fill(1), ablated), plain)).toBeLessThan(1e-4);
    expect(maxAbsDiff(logitsOf(graph, new Float32Array(graph.edgeCount), ablated), corrupted)).toBeLessThan(1e-4);
    tf.dispose(ablated);
  });

  it("equals the per-head graph's circuit whose group heads share their k/v edges", () => {
    const grouped = model.graph({ kvReaders: 'groups' });
    const perHead = model.graph();
    const ablated = writersOf(corrupt);
    let state = 17;
    const random = () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31;
    };
    for (let trial = 0; trial < 3; trial++) {
      const keep = Float32Array.from({ length: grouped.edgeCount }, () => (random() < 0.6 ? 1 : 0));
      const a = logitsOf(grouped, keep, ablated);
      const b = logitsOf(perHead, perHeadMask(grouped, perHead, keep), ablated);
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);
    }
    // And one k edge of a group is one edge: cutting it changes both heads of the group.
    const all = new Float32Array(grouped.edgeCount).fill(1);
    const cut = all.slice();
    cut[grouped.edgeIndex('a0.h1', 'a1.g1<k>')] = 0;
    const heads = (keep: Float32Array) =>
      tf.tidy(() => tf.unstack(model.forward(ids(clean), { circuit: { graph: grouped, keep, ablated }, captureWriters: true }).writers!.heads[1]!).map((t) => t.dataSync()));
    const [before, after] = [heads(all), heads(cut)];
    const changed = before.map((h, i) => maxAbsDiff(h, after[i]!) > 1e-6);
    expect(changed).toEqual([false, false, true, true]);
    tf.dispose(ablated);
  });

  it('a kv group reader owns exactly its group’s columns of W_K / W_V, the columns its heads read', () => {
    const dHead = config.dHead;
    expect(parameterSlicesOf(config, 'a1.g1<k>')).toEqual([{ param: 'blocks.1.attn.W_K', axis: 1, start: dHead, size: dHead }]);
    expect(parameterSlicesOf(config, 'a1.g0<v>')).toEqual([{ param: 'blocks.1.attn.W_V', axis: 1, start: 0, size: dHead }]);
    const graph = model.graph({ kvReaders: 'groups' });
    const reader = graph.readers[graph.readerIndex('a0.g1<v>')]!;
    expect(readerSlicesOf(config, reader, mapping)).toEqual(parameterSlicesOf(config, 'a0.g1<v>'));
    // The per-head k readers of the group's heads own the same columns (shared, counted once).
    const perHead = [...parameterSlicesOf(config, 'a1.h2<k>'), ...parameterSlicesOf(config, 'a1.h3<k>')];
    expect(sliceParameterCount(model.params, perHead)).toBe(sliceParameterCount(model.params, parameterSlicesOf(config, 'a1.g1<k>')));
    expect(sliceParameterCount(model.params, parameterSlicesOf(config, 'a1.g1<k>'))).toBe(config.dModel * dHead);
    // Every kv reader of a layer together owns all of W_K and W_V, and nothing else.
    const layer = graph.readers.filter((r) => r.kind === 'kv' && r.layer === 1).flatMap((r) => readerSlicesOf(config, r, mapping));
    expect(new Set(layer.map((s) => s.param))).toEqual(new Set(['blocks.1.attn.W_K', 'blocks.1.attn.W_V']));
    expect(sliceParameterCount(model.params, layer)).toBe(2 * config.dModel * config.nKvHeads * dHead);
    expect(() => parameterSlicesOf(config, 'a1.g2<k>')).toThrow(/kv group 2 does not exist/);
  });

  it('rejects a grouped graph of another model', () => {
    const other = TransformerModel.random(llamaConfig({ nLayers: 2, nHeads: 4, nKvHeads: 4, dModel: 32, dMlp: 64, vocabSize: 40, maxPositions: 16 }), 1);
    return other.then((m) => {
      const graph = model.graph({ kvReaders: 'groups' });
      const ablated = tf.tidy(() => m.forward(ids(corrupt), { captureWriters: true }).writers!);
      expect(() => m.forward(ids(clean), { circuit: { graph, keep: new Float32Array(graph.edgeCount).fill(1), ablated } })).toThrow(/2 kv groups per layer, the model has 4/);
      tf.dispose(ablated);
      m.dispose();
    });
  });
});
