import { batchPrompts } from '@circuit-tuning/discovery';
import { gpt2Config, TransformerModel } from '@circuit-tuning/model';
import { ensureBackend } from '@circuit-tuning/runtime';
import { describe, expect, it } from 'vitest';
import { redundancyCurves } from '../src/index';

describe('faithfulness curves and the memory budget', () => {
  it('evaluate circuits in passes that fit the budget: one that cannot fit a row is a config error', async () => {
    await ensureBackend();
    const model = await TransformerModel.random(gpt2Config({ nLayers: 2, nHeads: 4, dModel: 32, vocabSize: 50, maxPositions: 16 }), 7);
    const examples = Array.from({ length: 4 }, (_, id) => ({ id, clean: [1, 2, 3, 4, 5, 6], corrupt: [1, 9, 3, 4, 5, 6], pos: 5, answer: 7, foil: 8 }));
    const prompts = batchPrompts(examples, 4, { withCorrupt: true });
    const graph = model.graph();
    const scores = Float64Array.from({ length: graph.edgeCount }, (_, i) => Math.sin(i));
    const options = { randomSeeds: [1], gridPoints: 3, refineRounds: 0 };
    await expect(redundancyCurves(model, prompts, graph, scores, { ...options, memoryBudgetBytes: 10_000 })).rejects.toThrow(
      /edge-masked forward pass \(circuit evaluation\) needs about [\d.]+ MB for one row of 6 tokens, more than the memory budget of 0\.01 MB/,
    );
    const curves = await redundancyCurves(model, prompts, graph, scores, { ...options, memoryBudgetBytes: 1e9 });
    expect(curves.points.length).toBeGreaterThan(0);
    model.dispose();
  });
});
