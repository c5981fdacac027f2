import { readFileSync } from 'node:fs';
import { loadModel, type TransformerModel } from '@circuit-tuning/model';
import { ensureBackend } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accuracy, mean, perplexity, scorePrompts } from '../src/index';

const dir = new URL('../../../fixtures/reference/gpt2-tiny', import.meta.url).pathname;
const golden = JSON.parse(readFileSync(`${dir}/golden.json`, 'utf8')) as {
  inputs: { clean: number[][]; pos: number[]; answer: number[]; foil: number[] };
  metric: { value_clean: number };
  logits_clean_last_position: number[][];
};
let model: TransformerModel;
beforeAll(async () => {
  await ensureBackend();
  model = await loadModel(dir, { tokenizer: 'optional' });
});
afterAll(() => model.dispose());

const prompts = () => golden.inputs.clean.map((ids, i) => ({ ids, pos: golden.inputs.pos[i]!, answer: golden.inputs.answer[i]!, foil: golden.inputs.foil[i]! }));

describe('prompt scores', () => {
  it('gives the independent reference its mean logit difference', async () => {
    const scores = await scorePrompts(model, prompts(), { batchSize: 3 });
    expect(mean(scores.logitDiff)).toBeCloseTo(golden.metric.value_clean, 4);
    expect(accuracy([1, -1, 2, 0])).toBe(0.5);
  });

  it('ignores right padding after the prediction position', async () => {
    const [first] = prompts();
    const short = { ...first!, ids: first!.ids.slice(0, first!.pos + 1) };
    const scores = await scorePrompts(model, [short, { ...first!, ids: [...first!.ids, 3, 4] }]);
    expect(scores.logitDiff[0]).toBeCloseTo(scores.logitDiff[1]!, 5);
  });

  it('rejects answer ids outside the vocabulary and positions outside the prompt', async () => {
    const [first] = prompts();
    await expect(scorePrompts(model, [{ ...first!, answer: 50 }])).rejects.toThrow(/prompt id 0: answer id 50 is outside the model's vocabulary of 50/);
    await expect(scorePrompts(model, [{ ...first!, pos: 8 }])).rejects.toThrow(/pos 8 is outside clean_ids \(length 8\)/);
  });

  it('computes perplexity as exp of the mean next-token loss', async () => {
    const result = await perplexity(model, golden.inputs.clean);
    expect(result.tokens).toBe(4 * 7);
    // Random weights over 50 tokens: close to uniform.
    expect(result.perplexity).toBeGreaterThan(40);
    expect(result.perplexity).toBeLessThan(60);
  });
});
