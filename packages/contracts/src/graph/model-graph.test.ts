import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildGraph, nodeCount } from './model-graph';
import { edgeNamesShape, parseEdgeName, parseNodeName } from './names';

const golden = JSON.parse(
  readFileSync(new URL('../../../../fixtures/reference/gpt2-tiny/golden.json', import.meta.url), 'utf8'),
) as { graph: { writers: string[]; edges_in_order: string[]; n_edges: number } };

describe('buildGraph', () => {
  it('has 158 nodes and 32,491 edges for a GPT-2-small-shaped model', () => {
    const graph = buildGraph({ nLayers: 12, nHeads: 12 });
    expect(graph.writers).toHaveLength(157);
    expect(graph.readers).toHaveLength(445);
    expect(graph.edgeCount).toBe(32_491);
    expect(nodeCount(graph)).toBe(158);
    expect(graph.edgeNames()).toHaveLength(32_491);
  });

  it("has 156 × 444 and 31,890 edges without input and logits (the reference code's graph)", () => {
    const graph = buildGraph({ nLayers: 12, nHeads: 12 }, { includeInputAndLogits: false });
    expect(graph.writers).toHaveLength(156);
    expect(graph.readers).toHaveLength(444);
    expect(graph.edgeCount).toBe(31_890);
  });

  it('GPT-2 small with MLP heads of 64 neurons (K = 3072 / 64 = 48 per MLP): counts from the formula', () => {
    const [L, H, K] = [12, 12, 48];
    const graph = buildGraph({ nLayers: L, nHeads: H, mlpHeads: K });
    const writers = 1 + L * (H + K);
    const readers = L * (3 * H + K) + 1;
    // Layer l: 3H q/k/v readers of 1 + l(H+K) writers each, K MLP-head readers that also read the
    // layer's H heads; the logits read every writer.
    let edges = writers;
    for (let l = 0; l < L; l++) edges += 3 * H * (1 + l * (H + K)) + K * (1 + l * (H + K) + H);
    expect([graph.writers.length, graph.readers.length, graph.edgeCount]).toEqual([writers, readers, edges]);
    expect([writers, readers, edges]).toEqual([721, 1009, 341_281]);
    expect(nodeCount(graph)).toBe(1 + L * (H + K) + 1);
    expect(graph.edgeIndex('m0.n47', 'm1.n0')).toBe(graph.edgeOffset[graph.readerIndex('m1.n0')]! + graph.writerIndex('m0.n47'));
    expect(() => graph.edgeIndex('m1.n3', 'm1.n0')).toThrow(/not upstream/);
    expect(() => graph.writerIndex('m1')).toThrow(/unknown writer 'm1'/);
    expect(graph.edgeNames()[graph.edgeOffset[graph.readerIndex('m0.n1')]! + 4]).toBe('a0.h3->m0.n1');
    expect(() => buildGraph({ nLayers: 1, nHeads: 1, mlpHeads: 0 })).toThrow(/MLP heads/);
  });

  it('writes writers and edges in the order and naming of the independent reference', () => {
    const graph = buildGraph({ nLayers: 2, nHeads: 4 });
    expect(graph.writers.map((w) => w.name)).toEqual(golden.graph.writers);
    expect(graph.edgeNames()).toEqual(golden.graph.edges_in_order);
    expect(graph.edgeCount).toBe(golden.graph.n_edges);
  });

  it('indexes edges consistently with their names', () => {
    const graph = buildGraph({ nLayers: 3, nHeads: 2 });
    const names = graph.edgeNames();
    const { writer, reader } = graph.edgeEndpoints();
    for (let e = 0; e < names.length; e += 7) {
      const parsed = parseEdgeName(names[e]!)!;
      const readerName = parsed.qkv ? `${parsed.readerNode}<${parsed.qkv}>` : parsed.readerNode;
      expect(graph.edgeIndex(parsed.writer, readerName)).toBe(e);
      expect(graph.writers[writer[e]!]!.name).toBe(parsed.writer);
      expect(graph.readers[reader[e]!]!.name).toBe(readerName);
    }
    expect(() => graph.edgeIndex('m2', 'a1.h0<q>')).toThrow(/not upstream/);
    expect(() => graph.writerIndex('a9.h9')).toThrow(/unknown writer 'a9.h9'/);
  });

  it('parses node names', () => {
    expect(parseNodeName('a3.h11')).toEqual({ kind: 'head', layer: 3, head: 11 });
    expect(parseNodeName('m0')).toEqual({ kind: 'mlp', layer: 0 });
    expect(parseNodeName('m2.n5')).toEqual({ kind: 'mlp', layer: 2, mlpHead: 5 });
    expect(parseNodeName('logits')).toEqual({ kind: 'logits' });
    expect(parseNodeName('a3')).toBeUndefined();
  });
});

describe('k/v readers per kv group (grouped-query attention)', () => {
  it("Llama-3.1-8B's shape: 1,592,881 edges per query head (MIB's count), 805,681 with one k and one v reader per kv group", () => {
    const [L, H, G] = [32, 32, 8];
    expect(buildGraph({ nLayers: L, nHeads: H }).edgeCount).toBe(1_592_881);
    const grouped = buildGraph({ nLayers: L, nHeads: H, kvGroups: G });
    // Layer l: H q readers and 2G k/v readers of 1 + l(H + 1) writers each, the MLP reading the
    // layer's heads too; the logits read every writer.
    let edges = 1 + L * (H + 1);
    for (let l = 0; l < L; l++) edges += (H + 2 * G) * (1 + l * (H + 1)) + (1 + l * (H + 1) + H);
    expect(grouped.edgeCount).toBe(edges);
    expect(edges).toBe(805_681);
    expect(grouped.readers).toHaveLength(L * (H + 2 * G + 1) + 1);
  });

  it('a small Llama: exact counts, names and the order of the readers', () => {
    const graph = buildGraph({ nLayers: 2, nHeads: 4, kvGroups: 2 });
    // Writers 1 + 2·5 = 11; layer 0: 8 attention readers × 1 writer + the MLP's 5; layer 1: 8 × 6 + 10; logits 11.
    expect([graph.writers.length, graph.readers.length, graph.edgeCount]).toEqual([11, 19, 8 + 5 + 48 + 10 + 11]);
    expect(buildGraph({ nLayers: 2, nHeads: 4 }).edgeCount - graph.edgeCount).toBe(4 * (1 + 6)); // 12 − 8 readers fewer per layer
    expect(graph.readers.slice(9, 18).map((r) => r.name)).toEqual(['a1.h0<q>', 'a1.h1<q>', 'a1.h2<q>', 'a1.h3<q>', 'a1.g0<k>', 'a1.g1<k>', 'a1.g0<v>', 'a1.g1<v>', 'm1']);
    const k1 = graph.readers[graph.readerIndex('a1.g1<k>')]!;
    expect(k1).toMatchObject({ kind: 'kv', node: 'a1.g1', layer: 1, group: 1, heads: [2, 3], qkv: 'k' });
    expect(graph.edgeNames()[graph.edgeIndex('a0.h3', 'a1.g1<v>')]).toBe('a0.h3->a1.g1<v>');
    expect(() => graph.readerIndex('a1.h2<k>')).toThrow(/unknown reader/);
    expect(nodeCount(graph)).toBe(11 + 2 * 2 + 1); // writers, the kv groups (readers only), the logits
    expect(parseNodeName('a1.g1')).toEqual({ kind: 'kv', layer: 1, group: 1 });
    expect(parseEdgeName('a0.h3->a1.g1<v>')).toEqual({ writer: 'a0.h3', readerNode: 'a1.g1', qkv: 'v' });
    expect(edgeNamesShape(graph.edgeNames())).toEqual({ layers: 2, heads: 4, mlpHeads: 0, kvGroups: 2 });
    expect(() => buildGraph({ nLayers: 1, nHeads: 4, kvGroups: 3 })).toThrow(/kv groups must divide/);
  });
});

describe('edgeNamesShape', () => {
  it('reads the layers, heads and MLP heads a set of edge names shows, skipping names that are no edge', () => {
    expect(edgeNamesShape(['input->a1.h3<q>', 'a0.h0->m2', 'not an edge'])).toEqual({ layers: 3, heads: 4, mlpHeads: 0, kvGroups: 0 });
    expect(edgeNamesShape(buildGraph({ nLayers: 2, nHeads: 3, mlpHeads: 4 }).edgeNames())).toEqual({ layers: 2, heads: 3, mlpHeads: 4, kvGroups: 0 });
    expect(edgeNamesShape([])).toEqual({ layers: 0, heads: 0, mlpHeads: 0, kvGroups: 0 });
  });
});
