import type { TransformerModel } from '@circuit-tuning/model';
import { tf } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateCircuits, faithfulness, getMetric, faithfulnessCurve, metricPerExample, metricTargets, scoreEdges, spearman } from '../src/index';
import { asSet, goldenExamples, goldenModel, randomExamples, readGolden, tinyRandomModel } from './fixtures';
import { expectCircuitBeatsRandom } from './helpers/circuit-vs-random';

let golden: TransformerModel;
let random: TransformerModel;
beforeAll(async () => {
  golden = await goldenModel();
  random = await tinyRandomModel(7);
});
afterAll(() => {
  golden.dispose();
  random.dispose();
});

const goldenSet = () => asSet(goldenExamples(readGolden()));

describe('running circuits', () => {
  for (const graphKind of ['full', 'reference'] as const) {
    for (const ablation of ['corrupted', 'mean-positional', 'zero'] as const) {
      it(`gives faithfulness 1 for the full graph and 0 for the empty one (${graphKind} graph, ${ablation})`, async () => {
        const graph = golden.graph({ includeInputAndLogits: graphKind === 'full' });
        const all = new Float32Array(graph.edgeCount).fill(1);
        const none = new Float32Array(graph.edgeCount);
        const m = await evaluateCircuits(golden, goldenSet(), graph, [all, none], { ablation });
        // The edge-masked run with every edge kept reproduces the plain forward pass.
        expect(Math.abs(m.circuits[0]! - m.full)).toBeLessThan(1e-5);
        expect(faithfulness(m.circuits[0]!, m.full, m.circuits[1]!)).toBeCloseTo(1, 3);
        expect(faithfulness(m.circuits[1]!, m.full, m.circuits[1]!)).toBe(0);
        expect(Math.abs(m.full - m.circuits[1]!)).toBeGreaterThan(1e-4);
      });
    }
  }

  it('with every edge ablated (full graph, corrupted) measures the corrupted run', async () => {
    const set = goldenSet();
    const graph = golden.graph();
    const m = await evaluateCircuits(golden, set, graph, [new Float32Array(graph.edgeCount)]);
    const batch = set.batches[0]!;
    const corrupt = tf.tidy(() => {
      const targets = metricTargets(batch, golden.config.vocabSize);
      const logits = golden.logits(tf.tensor2d(batch.corrupt!, [batch.size, batch.seq], 'int32'));
      const value = tf.mean(metricPerExample(getMetric('logit-diff'), logits, batch, targets)).dataSync()[0]!;
      targets.dispose();
      return value;
    });
    expect(m.circuits[0]!).toBeCloseTo(corrupt, 5);
  });

  it('faithfulness rises toward 1 with the circuit size (on average)', async () => {
    const fractions = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1];
    const cases = [
      { model: golden, set: goldenSet() },
      { model: random, set: asSet(randomExamples({ seed: 1, count: 12, lengths: [6, 8], vocab: 50 })) },
      { model: random, set: asSet(randomExamples({ seed: 5, count: 16, lengths: [7], vocab: 50, changed: 4 })) },
    ];
    const trends: number[] = [];
    for (const { model, set } of cases) {
      const graph = model.graph();
      const eap = await scoreEdges(model, set, { method: 'eap' });
      const curve = await faithfulnessCurve(model, set, graph, eap.scores, { fractions });
      const gap = curve.points.map((p) => Math.abs(1 - p.faithfulness));
      trends.push(spearman(fractions, gap));
      console.log(`[faithfulness] ${curve.points.map((p) => `${p.edges}:${p.faithfulness.toFixed(2)}`).join(' ')}; CPR ${curve.cpr.toFixed(3)}, CMD ${curve.cmd.toFixed(3)}`);
      expect(curve.points.at(-1)!.faithfulness).toBeCloseTo(1, 3);
      expect(curve.points.at(-1)!.edges).toBe(graph.edgeCount);
    }
    // |1 − f| falls as N grows: a negative rank correlation with N, on average over the cases.
    expect(trends.reduce((s, t) => s + t, 0) / trends.length).toBeLessThan(-0.5);
  });

  it('finds a circuit on the golden model that beats random circuits of the same size', async () => {
    const set = goldenSet();
    // Scored at the prediction position, as when this was written: on this small random model
    // top-20 by all-position scores is below random (−0.37; exact patching's own top-20 only
    // 0.14), while top-60 is 0.89 (prediction: 0.65) against 0.07 for random circuits.
    const eap = await scoreEdges(golden, set, { method: 'eap', positions: 'prediction' });
    await expectCircuitBeatsRandom(golden, set, eap.scores, { n: 20 });
    const eapAll = await scoreEdges(golden, set, { method: 'eap', positions: 'all' });
    await expectCircuitBeatsRandom(golden, set, eapAll.scores, { n: 60 });
  });
});
