import type { ModelGraph } from '@circuit-tuning/contracts';
import { type TransformerModel, writeSlice } from '@circuit-tuning/model';
import { tf } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateCircuits, pruneDangling, scoreEdges } from '../src/index';
import { asSet, randomExamples, tinyRandomModel } from './fixtures';

/**
 * MLP heads (docs/method.md §1): every MLP head reads the residual the whole MLP reads, and the heads'
 * outputs sum to the MLP's (b_out aside, which cancels in a − ã). So at first order the scores of
 * an MLP's heads add up to the MLP's score: Σ_j s(u→m.n_j) = s(u→m), Σ_j s(m.n_j→v) = s(m→v).
 */
let model: TransformerModel;
beforeAll(async () => {
  model = await tinyRandomModel(11);
});
afterAll(() => model.dispose());

const K = 4;

describe('EAP on a graph with MLP heads', () => {
  for (const [ablation, method] of [['corrupted', 'eap'], ['mean', 'eap-ig'], ['mean-positional', 'eap']] as const) {
    it(`${method}, ${ablation} ablation: an MLP's heads' scores add up to its score`, async () => {
      const set = asSet(randomExamples({ seed: 2, count: 6, lengths: [6, 8], vocab: 50 }));
      const plain = await scoreEdges(model, set, { method, ablation, positions: 'all' });
      const graph = model.graph({ mlpHeadWidth: model.config.dMlp / K });
      const split = await scoreEdges(model, set, { method, ablation, positions: 'all', graph });
      const score = (g: ModelGraph, scores: Float64Array, writer: string, reader: string) => scores[g.edgeIndex(writer, reader)]!;
      const heads = (layer: number) => Array.from({ length: K }, (_, j) => `m${layer}.n${j}`);
      const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
      const cases: [string, string, number][] = [];
      for (const writer of ['input', 'a0.h1', 'a1.h0']) {
        cases.push([writer, 'm1', sum(heads(1).map((m) => score(graph, split.scores, writer, m)))]);
      }
      cases.push(['m0', 'logits', sum(heads(0).map((m) => score(graph, split.scores, m, 'logits')))]);
      cases.push(['m0', 'a1.h1<q>', sum(heads(0).map((m) => score(graph, split.scores, m, 'a1.h1<q>')))]);
      cases.push(['m0', 'm1', sum(heads(0).flatMap((w) => heads(1).map((r) => score(graph, split.scores, w, r))))]);
      for (const [writer, reader, summed] of cases) {
        const whole = score(plain.graph, plain.scores, writer, reader);
        expect(Math.abs(summed - whole), `${writer}->${reader}: Σ heads ${summed} vs ${whole}`).toBeLessThan(1e-4 + 1e-3 * Math.abs(whole));
      }
      // Edges between heads that do not share an MLP keep their scores.
      expect(score(graph, split.scores, 'a0.h0', 'a1.h1<k>')).toBeCloseTo(score(plain.graph, plain.scores, 'a0.h0', 'a1.h1<k>'), 4);
      // And the heads differ: they are not one node copied K times.
      const perHead = heads(0).map((m) => score(graph, split.scores, m, 'logits'));
      expect(new Set(perHead.map((v) => v.toFixed(6))).size).toBeGreaterThan(1);
      // Pruning reads MLP-head readers as their own nodes: an MLP head with only an input edge dangles.
      const keep = new Uint8Array(graph.edgeCount);
      keep[graph.edgeIndex('input', 'm0.n1')] = 1;
      keep[graph.edgeIndex('m0.n2', 'logits')] = 1;
      expect([...pruneDangling(graph, keep)].some((v) => v > 0)).toBe(false);
      keep[graph.edgeIndex('m0.n1', 'logits')] = 1;
      expect(pruneDangling(graph, keep)[graph.edgeIndex('input', 'm0.n1')]).toBe(1);
    });
  }

  it('scores each MLP head through its own slice: a head whose W_in columns are zero reads nothing', async () => {
    const own = await tinyRandomModel(12);
    const width = own.config.dMlp / K;
    const zeros = tf.zeros([own.config.dModel, width]);
    writeSlice(own.params, { param: 'blocks.1.mlp.W_in', axis: 1, start: (K - 2) * width, size: width }, zeros);
    zeros.dispose();
    const set = asSet(randomExamples({ seed: 2, count: 4, lengths: [6], vocab: 50 }));
    const graph = own.graph({ mlpHeadWidth: width });
    const { scores } = await scoreEdges(own, set, { method: 'eap', ablation: 'corrupted', positions: 'all', graph });
    for (let j = 0; j < K; j++) {
      const into = ['input', 'a0.h0', 'm0.n1', 'a1.h1'].map((w) => Math.abs(scores[graph.edgeIndex(w, `m1.n${j}`)]!));
      if (j === K - 2) expect(into.every((v) => v === 0)).toBe(true);
      else expect(into.some((v) => v > 0)).toBe(true);
    }
    own.dispose();
  });

  it('exact patching and faithfulness run on an MLP-head graph: an edge’s exact score is the metric change of cutting it', async () => {
    const set = asSet(randomExamples({ seed: 2, count: 3, lengths: [6], vocab: 50 }));
    const graph = model.graph({ mlpHeadWidth: model.config.dMlp / K });
    const exact = await scoreEdges(model, set, { method: 'exact', ablation: 'corrupted', positions: 'all', graph, maxExactEdges: graph.edgeCount });
    const all = new Float32Array(graph.edgeCount).fill(1);
    const cuts = ['a0.h1->m1.n2', 'm0.n3->logits', 'm0.n0->m1.n1'].map((name) => {
      const [writer, reader] = name.split('->') as [string, string];
      const keep = all.slice();
      keep[graph.edgeIndex(writer, reader)] = 0;
      return { name, e: graph.edgeIndex(writer, reader), keep };
    });
    const measured = await evaluateCircuits(model, set, graph, [all, ...cuts.map((c) => c.keep)], { ablation: 'corrupted' });
    // Every edge kept is the full model.
    expect(measured.circuits[0]!).toBeCloseTo(measured.full, 4);
    cuts.forEach(({ name, e }, i) => {
      // exact score = M(without the edge) − M(full), per example
      expect(exact.scores[e]!, name).toBeCloseTo(measured.circuits[i + 1]! - measured.full, 4);
    });
    expect(cuts.some(({ e }) => Math.abs(exact.scores[e]!) > 1e-5)).toBe(true);
  });
});
