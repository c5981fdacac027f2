import { fileURLToPath } from 'node:url';
import { loadModel, type TransformerModel } from '@circuit-tuning/model';
import { ensureBackend } from '@circuit-tuning/runtime';
import { generateTaskSuite } from '@circuit-tuning/tasks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchPrompts, DEFAULT_TOP_N, discoverCircuit, eapConfig, type PromptExample, type PromptSet } from '../src/index';

/**
 * Issue 15: with `ablation: corrupted` and `positions: prediction` (the old default), IOI's
 * corruption sits at a name before the prediction position, every input→* edge scored exactly 0
 * and pruning emptied the circuit. The defaults must find a faithful IOI circuit.
 */
const modelDir = fileURLToPath(new URL('../../../fixtures/models/default', import.meta.url));
let model: TransformerModel;
let prompts: PromptSet;

beforeAll(async () => {
  await ensureBackend();
  model = await loadModel(modelDir);
  // The embedded world's IOI prompts (its seed is the model card's; the corpus is not needed).
  const suite = generateTaskSuite({ world: { seed: 20261125 }, tasks: ['ioi'], corpus: { tokens: 0, devDocuments: 0 } });
  const c = suite.ioi!;
  const examples: PromptExample[] = [];
  for (let i = 0; i < c.id.length && examples.length < 32; i++) {
    if (c.split[i] !== 'test') continue;
    examples.push({ id: c.id[i]!, clean: c.clean_ids[i]!, corrupt: c.corrupt_ids[i]!, pos: c.pos[i]!, answer: c.answer[i]!, foil: c.foil[i]! });
  }
  prompts = batchPrompts(examples, 32, { withCorrupt: true });
});
afterAll(() => model.dispose());

describe('IOI on the embedded model with the default discovery settings', () => {
  it('finds a non-empty, faithful circuit', { timeout: 300_000 }, async () => {
    const defaults = eapConfig.parse({ curve: { enabled: false }, draw: { svg: false, png: false } });
    expect(defaults.ablation).toBe('corrupted');
    const summary: string[] = [];
    for (const n of [undefined, 120, 60]) {
      const { circuit, evaluation } = await discoverCircuit(model, prompts, 'eap', { ...defaults, selection: { ...defaults.selection, n } });
      summary.push(`top-${n ?? `${DEFAULT_TOP_N} (default)`}: ${circuit.edges} edges, faithfulness ${evaluation.faithfulness.toFixed(3)}`);
      expect(circuit.edges, summary.join('; ')).toBeGreaterThan(0);
      expect(evaluation.faithfulness, summary.join('; ')).toBeGreaterThanOrEqual(0.9);
    }
    console.log(`[IOI, default settings] ${summary.join('; ')}`);
    // What the old default did: scored at the prediction position only, nothing survives pruning.
    const old = await discoverCircuit(model, prompts, 'eap', { ...defaults, positions: 'prediction', selection: { ...defaults.selection, n: 120 } });
    expect(old.circuit.edges).toBe(0);
  });
});
