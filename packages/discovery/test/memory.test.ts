import { ConfigError } from '@circuit-tuning/contracts';
import { gpt2Config, type TransformerModel } from '@circuit-tuning/model';
import { tf } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPassBudgetBytes, evaluateCircuits, passBytes, rowsPerPass, scoreEdges } from '../src/index';
import { asSet, randomExamples, tinyRandomModel } from './fixtures';

let model: TransformerModel;
beforeAll(async () => {
  model = await tinyRandomModel(5);
});
afterAll(() => model.dispose());

const set = asSet(randomExamples({ seed: 4, count: 6, lengths: [5, 6], vocab: 50 }), 2);
/** The default budget on wasm (defaultPassBudgetBytes). */
const WASM_BUDGET = 1.5e9;

describe('memory', () => {
  const calls = {
    'EAP': () => scoreEdges(model, set, { method: 'eap' }),
    'EAP-IG with KL and mean ablation': () => scoreEdges(model, set, { method: 'eap-ig', steps: 3, metric: 'kl', ablation: 'mean-positional' }),
    'exact patching (all positions, zero ablation)': () =>
      scoreEdges(model, asSet(randomExamples({ seed: 4, count: 2, lengths: [4], vocab: 50 })), { method: 'exact', positions: 'all', ablation: 'zero' }),
    'circuit evaluation': () => {
      const graph = model.graph();
      return evaluateCircuits(model, set, graph, [new Float32Array(graph.edgeCount), new Float32Array(graph.edgeCount).fill(1)], { metric: 'prob-diff' });
    },
  };
  for (const [name, call] of Object.entries(calls)) {
    it(`keeps tf.memory().numTensors flat across repeated calls: ${name}`, async () => {
      await call();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 2; i++) await call();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe('rows per pass', () => {
  const gpt2Small = { config: gpt2Config({ nLayers: 12, nHeads: 12, dModel: 768, vocabSize: 50257, maxPositions: 1024 }) };

  it('gives the edge-masked pass its own per-row cost, far below the probed pass', () => {
    const probed = passBytes(gpt2Small, 'probed', 9);
    const masked = passBytes(gpt2Small, 'masked', 9);
    // GPT-2 small: the masked pass measured 2.12 MB a token (tf.profile of evaluateCircuits).
    expect(masked.perRow / 9 / 1e6).toBeGreaterThan(2.12);
    expect(masked.perRow / 9 / 1e6).toBeLessThan(2.12 * 1.3);
    // The probed pass counts 7 or 12 copies of every reader input (native kernels or not).
    expect(probed.perRow).toBeGreaterThan(4 * masked.perRow);
    expect(rowsPerPass(gpt2Small, 9, WASM_BUDGET, 'masked')).toBeGreaterThan(4 * rowsPerPass(gpt2Small, 9, WASM_BUDGET, 'probed'));
  });

  it('is an error naming the pass, the size asked and the budget when one row does not fit', () => {
    expect(() => rowsPerPass(gpt2Small, 1024, 1.5e9, 'probed')).toThrow(ConfigError);
    expect(() => rowsPerPass(gpt2Small, 1024, 1.5e9, 'probed')).toThrow(
      /probed forward\/backward pass \(EAP scoring\) needs about [\d,]+ MB for one row of 1024 tokens, more than the memory budget of 1,500 MB/,
    );
    expect(() => rowsPerPass(gpt2Small, 9, 100e6, 'masked')).toThrow(/edge-masked forward pass \(circuit evaluation\) needs about 179 MB for one row of 9 tokens, more than the memory budget of 100 MB/);
  });

  it('bounds the measured peak of EAP scoring on the active backend', async () => {
    const model = await tinyRandomModel(3, gpt2Config({ nLayers: 6, nHeads: 8, dModel: 256, vocabSize: 8000, maxPositions: 16 }));
    const wide = asSet(randomExamples({ seed: 4, count: 8, lengths: [12], vocab: 8000 }), 8);
    const start = tf.memory().numBytes;
    const profile = await tf.profile(async () => {
      await scoreEdges(model, wide, { method: 'eap', rowsPerPass: 8 });
      return tf.scalar(0);
    });
    const peak = profile.peakBytes - start;
    (profile.result as tf.Tensor).dispose();
    const { fixed, perRow } = passBytes(model, 'probed', 12);
    model.dispose();
    const summary = `${tf.getBackend()}: peak ${(peak / 1e6).toFixed(1)} MB, estimate ${((fixed + 8 * perRow) / 1e6).toFixed(1)} MB`;
    expect(peak, summary).toBeLessThanOrEqual(fixed + 8 * perRow);
    expect(peak, summary).toBeGreaterThan(0.5 * (fixed + 8 * perRow));
  });

  it('bounds the measured peak of EAP scoring on a graph with MLP heads (16 heads of 64 neurons)', async () => {
    const model = await tinyRandomModel(3, gpt2Config({ nLayers: 6, nHeads: 8, dModel: 256, vocabSize: 8000, maxPositions: 16 }));
    const wide = asSet(randomExamples({ seed: 4, count: 8, lengths: [12], vocab: 8000 }), 8);
    const graph = model.graph({ mlpHeadWidth: 64 });
    const start = tf.memory().numBytes;
    const profile = await tf.profile(async () => {
      await scoreEdges(model, wide, { method: 'eap', rowsPerPass: 8, graph });
      return tf.scalar(0);
    });
    const peak = profile.peakBytes - start;
    (profile.result as tf.Tensor).dispose();
    const { fixed, perRow } = passBytes(model, 'probed', 12, 16);
    model.dispose();
    const summary = `${tf.getBackend()}: peak ${(peak / 1e6).toFixed(1)} MB, estimate ${((fixed + 8 * perRow) / 1e6).toFixed(1)} MB`;
    expect(peak, summary).toBeLessThanOrEqual(fixed + 8 * perRow);
    expect(peak, summary).toBeGreaterThan(0.5 * (fixed + 8 * perRow));
  });

  it('bounds the measured peak of circuit evaluation', async () => {
    const model = await tinyRandomModel(3, gpt2Config({ nLayers: 4, nHeads: 4, dModel: 64, vocabSize: 1000, maxPositions: 16 }));
    const graph = model.graph();
    const keep = Float32Array.from({ length: graph.edgeCount }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const wide = asSet(randomExamples({ seed: 4, count: 8, lengths: [12], vocab: 1000 }), 8);
    const start = tf.memory().numBytes;
    const profile = await tf.profile(async () => {
      await evaluateCircuits(model, wide, graph, [keep], { rowsPerPass: 8 });
      return tf.scalar(0);
    });
    const peak = profile.peakBytes - start;
    (profile.result as tf.Tensor).dispose();
    const { fixed, perRow } = passBytes(model, 'masked', 12);
    model.dispose();
    expect(peak).toBeLessThanOrEqual(fixed + 8 * perRow);
    expect(peak).toBeGreaterThan(0.5 * (fixed + 8 * perRow));
  });
});

describe('the default pass budget', () => {
  it('is 1.5 GB on wasm (its 4 GB heap) and 6 GB where tensors live in process memory, so GPT-2 small scores a 68-token prompt', () => {
    const gpt2Small = { config: gpt2Config({ nLayers: 12, nHeads: 12, dModel: 768, vocabSize: 50257, maxPositions: 1024 }) };
    expect(defaultPassBudgetBytes()).toBe(tf.getBackend() === 'wasm' ? 1.5e9 : 6e9);
    if (tf.getBackend() !== 'wasm') expect(rowsPerPass(gpt2Small, 68)).toBeGreaterThanOrEqual(1);
    expect(() => rowsPerPass(gpt2Small, 68, WASM_BUDGET)).toThrow(ConfigError);
  });
});
