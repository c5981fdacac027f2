import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelGraph } from '@circuit-tuning/contracts';
import { llamaConfig, type TransformerModel } from '@circuit-tuning/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { circuitNodes, discoverCircuit, eapConfig, fromEapIgJson, pruneDangling, scoreEdges, writeDiscoveryOutputs } from '../src/index';
import { asSet, randomExamples, tinyRandomModel } from './fixtures';

/**
 * k/v readers per kv group (grouped-query attention, docs/method.md §1). The query heads of a group
 * read one shared k (and v) input, so the gradient at that input is the sum of the gradients at
 * the per-head copies the ungrouped graph probes: s(u→g<k>) = Σ_{h∈g} s(u→h<k>), exactly, for EAP
 * and EAP-IG (at every interpolation step); q, MLP and logits edges keep their scores.
 */
const config = llamaConfig({ nLayers: 2, nHeads: 4, nKvHeads: 2, dModel: 32, dMlp: 64, vocabSize: 50, maxPositions: 16 });
let model: TransformerModel;
beforeAll(async () => {
  model = await tinyRandomModel(13, config);
});
afterAll(() => model.dispose());

describe('EAP on a graph with k/v readers per kv group', () => {
  for (const [ablation, method] of [['corrupted', 'eap'], ['mean', 'eap-ig']] as const) {
    it(`${method}, ${ablation} ablation: a group's k/v score is the sum of its heads' k/v scores`, async () => {
      const set = asSet(randomExamples({ seed: 3, count: 6, lengths: [6, 8], vocab: 50 }));
      const perHead = await scoreEdges(model, set, { method, ablation, positions: 'all' });
      const graph = model.graph({ kvReaders: 'groups' });
      const grouped = await scoreEdges(model, set, { method, ablation, positions: 'all', graph });
      const score = (g: ModelGraph, scores: Float64Array, writer: string, reader: string) => scores[g.edgeIndex(writer, reader)]!;
      let checked = 0;
      for (const writer of ['input', 'a0.h0', 'a0.h3', 'm0']) {
        for (const [group, heads] of [[0, [0, 1]], [1, [2, 3]]] as [number, number[]][]) {
          for (const letter of ['k', 'v'] as const) {
            const summed = heads.reduce((s: number, h) => s + score(perHead.graph, perHead.scores, writer, `a1.h${h}<${letter}>`), 0);
            const value = score(graph, grouped.scores, writer, `a1.g${group}<${letter}>`);
            expect(Math.abs(value - summed), `${writer}->a1.g${group}<${letter}>: ${value} vs Σ ${summed}`).toBeLessThan(1e-5 + 1e-4 * Math.abs(summed));
            checked++;
          }
        }
        for (const reader of ['a1.h2<q>', 'm1', 'logits']) {
          expect(score(graph, grouped.scores, writer, reader)).toBeCloseTo(score(perHead.graph, perHead.scores, writer, reader), 5);
        }
      }
      expect(checked).toBe(16);
      // Not trivially zero: the grouped scores carry signal.
      expect(Math.max(...Array.from(grouped.scores, Math.abs))).toBeGreaterThan(1e-4);
    });
  }

  it("prunes through a group's heads, and counts the heads, not the group, as circuit nodes", () => {
    const graph = model.graph({ kvReaders: 'groups' });
    const keep = new Uint8Array(graph.edgeCount);
    keep[graph.edgeIndex('input', 'a1.g1<k>')] = 1;
    keep[graph.edgeIndex('a1.h1', 'logits')] = 1;
    // a1.h1 is in group 0: its only input edge is group 1's, so both edges dangle.
    expect([...pruneDangling(graph, keep)].some((v) => v > 0)).toBe(false);
    keep[graph.edgeIndex('a1.h3', 'logits')] = 1;
    const pruned = pruneDangling(graph, keep);
    expect(pruned[graph.edgeIndex('input', 'a1.g1<k>')]).toBe(1);
    expect(pruned[graph.edgeIndex('a1.h3', 'logits')]).toBe(1);
    expect(pruned[graph.edgeIndex('a1.h1', 'logits')]).toBe(0);
    expect(circuitNodes(graph, pruned)).toEqual(['input', 'a1.h2', 'a1.h3', 'logits']);
  });

  it("discovery's kvReaders: 'groups' finds the circuit on the grouped graph and writes every output", async () => {
    const set = asSet(randomExamples({ seed: 4, count: 4, lengths: [6], vocab: 50 }));
    const defaults = eapConfig.parse({});
    expect(defaults.kvReaders).toBe('heads');
    const config = { ...defaults, kvReaders: 'groups' as const, selection: { ...defaults.selection, n: 20 }, curve: { ...defaults.curve, fractions: [0.1, 0.5, 1] } };
    const result = await discoverCircuit(model, set, 'eap', config);
    const graph = result.scores.graph;
    expect(graph.shape.kvGroups).toBe(2);
    expect(graph.edgeCount).toBe(model.graph({ kvReaders: 'groups' }).edgeCount);
    expect(result.circuit.nodes.every((n) => !/\.g\d/.test(n))).toBe(true);
    expect(result.curve!.points.at(-1)!.faithfulness).toBeCloseTo(1, 3);
    const dir = await mkdtemp(join(tmpdir(), 'kv-groups-'));
    try {
      const paths = { edges: join(dir, 'edges.arrow'), nodes: join(dir, 'nodes.arrow'), summary: join(dir, 'summary.json'), circuit: join(dir, 'circuit.json'), curve: join(dir, 'curve.arrow'), svg: join(dir, 'circuit.svg') };
      await writeDiscoveryOutputs(model, result, config, paths, { producer: 'test' });
      const back = fromEapIgJson(graph, JSON.parse(await readFile(paths.circuit, 'utf8')));
      expect(Array.from(back.keep)).toEqual(Array.from(result.circuit.keep));
      expect(await readFile(paths.svg, 'utf8')).toContain('<svg');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
