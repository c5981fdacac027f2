import type { TransformerModel } from '@circuit-tuning/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchPrompts, evaluateCircuits, scoreEdges, splitBatch } from '../src/index';
import { asSet, maxAbsDiff, randomExamples, tinyRandomModel } from './fixtures';

let model: TransformerModel;
beforeAll(async () => {
  model = await tinyRandomModel(3);
});
afterAll(() => model.dispose());

const mixed = randomExamples({ seed: 9, count: 10, lengths: [5, 9, 7], vocab: 50, lastPos: false });

describe('prompts of different lengths', () => {
  it('are grouped by length into unpadded batches, deterministically', () => {
    const set = batchPrompts(mixed, 3, { withCorrupt: true });
    expect(set.examples).toBe(10);
    expect(set.batches.map((b) => [b.seq, b.size])).toEqual([
      [5, 3],
      [5, 1],
      [7, 3],
      [9, 3],
    ]);
    for (const b of set.batches) {
      expect(b.clean).toHaveLength(b.size * b.seq);
      b.exampleIds.forEach((id, row) => {
        expect(Array.from(b.clean.slice(row * b.seq, (row + 1) * b.seq))).toEqual(mixed[id]!.clean);
        expect(b.pos[row]).toBe(mixed[id]!.pos);
      });
    }
    expect(splitBatch(set.batches[0]!, 2).map((b) => b.exampleIds)).toEqual([set.batches[0]!.exampleIds.slice(0, 2), set.batches[0]!.exampleIds.slice(2)]);
  });

  for (const ablation of ['corrupted', 'mean', 'mean-positional'] as const) {
    it(`give scores that do not depend on how they are batched (${ablation})`, async () => {
      const whole = await scoreEdges(model, asSet(mixed, 64), { method: 'eap', ablation, positions: 'all' });
      const small = await scoreEdges(model, asSet(mixed, 2), { method: 'eap', ablation, positions: 'all', rowsPerPass: 1 });
      const scale = Math.max(...Array.from(whole.scores, Math.abs));
      expect(maxAbsDiff(small.scores, whole.scores) / scale).toBeLessThan(1e-4);
      expect(small.metricClean).toBeCloseTo(whole.metricClean, 5);
    });
  }

  it('average per example: a mixed set scores as the size-weighted mean of its length groups', async () => {
    const byLength = [5, 7, 9].map((len) => mixed.filter((e) => e.clean.length === len));
    const parts = await Promise.all(byLength.map(async (group) => ({ n: group.length, s: (await scoreEdges(model, asSet(group), { method: 'eap' })).scores })));
    const whole = await scoreEdges(model, asSet(mixed), { method: 'eap' });
    const combined = whole.scores.map((_, e) => parts.reduce((sum, p) => sum + p.n * p.s[e]!, 0) / mixed.length);
    expect(maxAbsDiff(combined, whole.scores)).toBeLessThan(1e-6 + 1e-4 * Math.max(...Array.from(whole.scores, Math.abs)));
  });

  it('are padded on the right into fewer batches when asked, each row with its real length', () => {
    const set = batchPrompts(mixed, 4, { withCorrupt: true, pad: true });
    // Lengths 5 (×4), 7 (×3), 9 (×3), sorted: one batch of 5s, then 7, 7, 7, 9, then 9, 9.
    expect(set.batches.map((b) => [b.seq, b.size])).toEqual([
      [5, 4],
      [9, 4],
      [9, 2],
    ]);
    for (const b of set.batches) {
      b.exampleIds.forEach((id, row) => {
        const ex = mixed[id]!;
        expect(b.lengths[row]).toBe(ex.clean.length);
        const cleanRow = Array.from(b.clean.slice(row * b.seq, (row + 1) * b.seq));
        expect(cleanRow.slice(0, ex.clean.length)).toEqual(ex.clean);
        // The padding repeats the row's last token, clean and corrupt alike.
        expect(new Set(cleanRow.slice(ex.clean.length))).toEqual(new Set(ex.clean.length < b.seq ? [ex.clean.at(-1)] : []));
        expect(Array.from(b.corrupt!.slice(row * b.seq, row * b.seq + ex.corrupt!.length))).toEqual(ex.corrupt);
      });
    }
    expect(splitBatch(set.batches[0]!, 3)[1]!.lengths).toEqual(set.batches[0]!.lengths.slice(3));
  });

  it('pad a batch only while the padding stays within a quarter of its real tokens', () => {
    const spread = randomExamples({ seed: 4, count: 12, lengths: [2, 3, 13, 14, 16, 39], vocab: 50, lastPos: false });
    const set = batchPrompts(spread, 64, { withCorrupt: true, pad: true });
    for (const b of set.batches) {
      const real = b.lengths.reduce((a, n) => a + n, 0);
      expect(b.size * b.seq).toBeLessThanOrEqual(1.25 * real);
    }
    // Six lengths, four passes: 13, 14 and 16 share one (padding 2 × 3 + 2 × 2 tokens to 90 real),
    // while padding the 2s to 3 would add half as many tokens again.
    expect(set.batches.map((b) => b.seq)).toEqual([2, 3, 16, 39]);
  });

  // The models are causal: padding after a row's end changes none of its real positions, so every
  // score and metric is the unpadded one (to float rounding of the longer products).
  const cases = [
    ['eap', 'corrupted', 'all'],
    ['eap', 'corrupted', 'prediction'],
    ['eap', 'mean', 'all'],
    ['eap', 'mean-positional', 'all'],
    ['eap-ig', 'corrupted', 'all'],
    ['exact', 'corrupted', 'all'],
  ] as const;
  for (const [method, ablation, positions] of cases) {
    it(`padded batches score as unpadded ones (${method}, ${ablation}, ${positions})`, async () => {
      const plain = await scoreEdges(model, batchPrompts(mixed, 64, { withCorrupt: true }), { method, ablation, positions, steps: 3 });
      const padded = await scoreEdges(model, batchPrompts(mixed, 64, { withCorrupt: true, pad: true }), { method, ablation, positions, steps: 3 });
      const scale = Math.max(...Array.from(plain.scores, Math.abs));
      expect(maxAbsDiff(padded.scores, plain.scores) / scale).toBeLessThan(1e-5);
      expect(padded.metricClean).toBeCloseTo(plain.metricClean, 5);
    });
  }

  it('padded batches give the same faithfulness of circuits (mean ablation: means over real tokens only)', async () => {
    const graph = model.graph();
    const masks = [0.1, 0.5].map((share) => Float32Array.from({ length: graph.edgeCount }, (_, e) => (e % 10 < share * 10 ? 1 : 0)));
    for (const ablation of ['corrupted', 'mean'] as const) {
      const plain = await evaluateCircuits(model, batchPrompts(mixed, 64, { withCorrupt: true }), graph, masks, { ablation });
      const padded = await evaluateCircuits(model, batchPrompts(mixed, 64, { withCorrupt: true, pad: true }), graph, masks, { ablation });
      expect(padded.full).toBeCloseTo(plain.full, 5);
      for (const [i, c] of padded.circuits.entries()) expect(c).toBeCloseTo(plain.circuits[i]!, 4);
    }
  });
});
