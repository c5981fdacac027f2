import { readFileSync } from 'node:fs';
import { llamaConfig, loadModel, TransformerModel } from '@circuit-tuning/model';
import { ensureBackend } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logitLens, meanStd, type ScoredPrompt, scorePrompts } from '../src/index';

const dir = new URL('../../../fixtures/reference/gpt2-tiny', import.meta.url).pathname;
const golden = JSON.parse(readFileSync(`${dir}/golden.json`, 'utf8')) as { inputs: { clean: number[][]; pos: number[]; answer: number[]; foil: number[] } };
const prompts: ScoredPrompt[] = golden.inputs.clean.map((ids, i) => ({ ids, pos: golden.inputs.pos[i]!, answer: golden.inputs.answer[i]!, foil: golden.inputs.foil[i]! }));

let gpt2: TransformerModel;
let llama: TransformerModel;
beforeAll(async () => {
  await ensureBackend();
  gpt2 = await loadModel(dir, { tokenizer: 'optional' });
  llama = await TransformerModel.random(llamaConfig({ nLayers: 2, nHeads: 4, nKvHeads: 2, dModel: 32, dMlp: 64, vocabSize: 50, maxPositions: 16 }), 3);
});
afterAll(() => {
  gpt2.dispose();
  llama.dispose();
});

/** Σ over every writer and the biases, per prompt. */
function reconstructed(lens: Awaited<ReturnType<typeof logitLens>>, i: number): number {
  let sum = lens.input[i]! + lens.bias[i]!;
  for (const heads of lens.heads) for (const h of heads) sum += h[i]!;
  for (const m of lens.mlps) sum += m[i]!;
  return sum;
}

describe('the logit lens', () => {
  for (const [name, model] of [
    ['GPT-2 (LayerNorm, output biases)', () => gpt2],
    ['Llama (RMSNorm, grouped k/v, no biases)', () => llama],
  ] as const) {
    it(`${name}: the writers' shares add up to the logit difference`, async () => {
      // Mixed lengths and a prediction before the end: right padding must not leak in.
      const mixed = [...prompts, { ...prompts[0]!, ids: Array.from(prompts[0]!.ids).slice(0, 5), pos: 3 }];
      const lens = await logitLens(model(), mixed, { batchSize: 3 });
      const scores = await scorePrompts(model(), mixed);
      mixed.forEach((_, i) => {
        expect(lens.logitDiff[i]).toBeCloseTo(scores.logitDiff[i]!, 4);
        expect(reconstructed(lens, i)).toBeCloseTo(scores.logitDiff[i]!, 4);
      });
      expect(lens.heads).toHaveLength(2);
      expect(lens.heads[0]).toHaveLength(4);
      // Not everything sits in one place.
      expect(lens.heads.flat().some((h) => Math.abs(h[0]!) > 1e-4)).toBe(true);
    });
  }

  it('refuses answer ids outside the vocabulary', async () => {
    await expect(logitLens(gpt2, [{ ...prompts[0]!, foil: 99 }])).rejects.toThrow(/foil id 99 is outside the model's vocabulary of 50/);
  });

  it('averages over chosen prompts', () => {
    expect(meanStd([1, 2, 3, 10], [0, 1, 2])).toEqual({ mean: 2, std: Math.sqrt(2 / 3), n: 3 });
    expect(meanStd([]).n).toBe(0);
  });
});
