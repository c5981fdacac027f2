import { llamaConfig, TransformerModel } from '@circuit-tuning/model';
import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { CircuitTuningConfig } from './circuit-config';
import { CircuitPlanner } from './planner';

beforeAll(() => ensureBackend());

/**
 * Circuit-tuning on the reference code's grouped-query graph (discovery.kvReaders 'groups'): the
 * circuit is found on, and maps through, a graph with one k and one v reader per kv group, each
 * owning exactly its group's columns of W_K / W_V.
 */
describe('circuit-tuning with k/v readers per kv group', () => {
  it('finds circuits on the grouped graph and trains exactly the groups’ k/v columns', async () => {
    // 4 query heads sharing 2 kv heads (dHead 4): W_K and W_V are [16, 8], a group owns 4 columns.
    const model = await TransformerModel.random(llamaConfig({ nLayers: 2, nHeads: 4, nKvHeads: 2, dModel: 16, dMlp: 32, vocabSize: 20, maxPositions: 16 }), 5);
    const prompts = Array.from({ length: 8 }, (_, id) => ({ id, clean: [1 + id, 3, 5 + (id % 4), 7], corrupt: undefined, pos: 3, answer: 2 + (id % 5), foil: 11 }));
    const config = CircuitTuningConfig.parse({
      steps: 1,
      batchSize: 2,
      seqLen: 8,
      topN: { start: 400 },
      discovery: { prompts: 8, ablation: 'mean', kvReaders: 'groups' },
      parameterMapping: { mlp: 'heads', mlpHeadWidth: 8 },
    });
    const planner = new CircuitPlanner(model, config, prompts, 'discover', 7);
    expect(planner.edgeCount).toBe(model.graph({ kvReaders: 'groups', mlpHeadWidth: 8 }).edgeCount);
    expect(planner.edgeCount).toBeLessThan(model.graph({ mlpHeadWidth: 8 }).edgeCount); // fewer k/v readers than per head
    const plan = await planner.plan({ ids: Int32Array.from({ length: 16 }, (_, i) => i % 20), weights: new Float32Array(16).fill(1), batch: 2, seq: 8 }, 0);
    const masks = new Map(plan.trainable.map((t) => [t.name, t.mask]));
    // Every edge kept: each layer's W_K is trained whole (both groups), as a mask of columns or none.
    for (const layer of [0, 1]) {
      const mask = masks.get(`blocks.${layer}.attn.W_K`);
      expect(masks.has(`blocks.${layer}.attn.W_K`)).toBe(true);
      if (mask) expect(Array.from(mask.dataSync())).toEqual(new Array(8).fill(1));
    }
    tf.dispose(plan.dispose ?? []);

    // A circuit of a few edges: only the groups whose k/v readers it holds own columns.
    const small = new CircuitPlanner(model, CircuitTuningConfig.parse({ ...config, topN: { start: 6 } }), prompts, 'discover', 7);
    const smallPlan = await small.plan({ ids: Int32Array.from({ length: 16 }, (_, i) => i % 20), weights: new Float32Array(16).fill(1), batch: 2, seq: 8 }, 0);
    for (const t of smallPlan.trainable.filter((x) => /attn\.W_[KV]$/.test(x.name))) {
      const columns = Array.from(t.mask?.dataSync() ?? new Array(8).fill(1));
      // Whole groups: columns 0–3 (group 0) and 4–7 (group 1) are each all in or all out.
      expect(new Set(columns.slice(0, 4)).size).toBe(1);
      expect(new Set(columns.slice(4)).size).toBe(1);
    }
    tf.dispose(smallPlan.dispose ?? []);
    model.dispose();
  });
});
