import { gpt2Config, TransformerModel } from '@circuit-tuning/model';
import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { meanWriters } from './planner';

beforeAll(() => ensureBackend());

describe('edge-ablated training ablates with means over real tokens', () => {
  it('leaves padding out: any pad ids give the same means, equal to the mean over the real positions', async () => {
    const model = await TransformerModel.random(gpt2Config({ nLayers: 2, nHeads: 2, dModel: 8, vocabSize: 12, maxPositions: 8 }), 3);
    // Row 0 holds 3 real tokens (weights on the 2 that predict), row 1 holds 5 (4 predict).
    const weights = Float32Array.from([1, 1, 0, 0, 0, 1, 1, 1, 1, 0]);
    const batchWith = (pad: number) => ({ ids: Int32Array.from([4, 5, 6, pad, pad, 1, 2, 3, 7, 8]), weights, batch: 2, seq: 5 });
    const [a, b] = [meanWriters(model, batchWith(0)), meanWriters(model, batchWith(11))];
    expect(Array.from(a.input.dataSync())).toEqual(Array.from(b.input.dataSync()));
    for (const [l, m] of a.mlps.entries()) expect(Array.from(m.dataSync())).toEqual(Array.from(b.mlps[l]!.dataSync()));
    // The same as averaging the writers' outputs at positions 0–2 of row 0 and 0–4 of row 1.
    const real = [0, 1, 2, 5, 6, 7, 8, 9];
    const writers = tf.tidy(() => model.forward(tf.tensor2d(batchWith(0).ids, [2, 5], 'int32'), { captureWriters: true }).writers!);
    const expected = tf.tidy(() => tf.mean(tf.gather(writers.mlps[1]!, real), 0, true));
    const got = a.mlps[1]!.dataSync();
    for (const [i, x] of expected.dataSync().entries()) expect(got[i]).toBeCloseTo(x, 5);
    tf.dispose([expected, writers.input, ...writers.heads, ...writers.mlps, a.input, ...a.heads, ...a.mlps, b.input, ...b.heads, ...b.mlps]);
    model.dispose();
  });

  it('gives each MLP head its own mean when the graph splits the MLPs: the heads add up to the MLP less b_out', async () => {
    const model = await TransformerModel.random(gpt2Config({ nLayers: 2, nHeads: 2, dModel: 8, vocabSize: 12, maxPositions: 8 }), 4);
    const weights = Float32Array.from([1, 1, 0, 0, 0, 1, 1, 1, 1, 0]);
    const means = meanWriters(model, { ids: Int32Array.from([4, 5, 6, 0, 0, 1, 2, 3, 7, 8]), weights, batch: 2, seq: 5 }, 4);
    expect(means.mlpHeads?.map((h) => h.shape)).toEqual([
      [4, 1, 8],
      [4, 1, 8],
    ]);
    for (const layer of [0, 1]) {
      const [summed, whole] = tf.tidy(() => [
        tf.add(tf.sum(means.mlpHeads![layer]!, 0), model.params.get(`blocks.${layer}.mlp.b_out`)).dataSync(),
        means.mlps[layer]!.dataSync(),
      ]);
      for (const [i, x] of whole!.entries()) expect(summed![i]).toBeCloseTo(x, 5);
    }
    tf.dispose([means.input, ...means.heads, ...means.mlps, ...(means.mlpHeads ?? [])]);
    model.dispose();
  });
});
