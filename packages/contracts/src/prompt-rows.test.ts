import { describe, expect, it } from 'vitest';
import { ContractError } from './errors';
import { type PromptRowIds, validatePromptRows, validatePromptsTable } from './prompt-rows';

const limits = { vocabSize: 50, maxPositions: 16, positions: 'learned' };
const good = (): PromptRowIds => ({ id: 3, clean: [1, 2, 3, 4], corrupt: [1, 2, 9, 4], pos: 3, answer: 5, foil: 6 });
const check = (row: Partial<PromptRowIds>, options: { needCorrupt?: boolean; limits?: typeof limits } = { limits }) => () =>
  validatePromptRows([good(), { ...good(), id: 7, ...row }], { source: 'p.arrow', ...options });

describe('validatePromptRows: what a prompts table means', () => {
  it('names the source, the row and the prompt id', () => {
    expect(check({ corrupt: [1, 2, 3] })).toThrow(ContractError);
    expect(check({ corrupt: [1, 2, 3] })).toThrow(/^p\.arrow row 1: prompt id 7: clean and corrupted prompts differ in length \(4 vs 3 tokens\)$/);
    expect(check({ tableRow: 12, pos: 4 })).toThrow(/^p\.arrow row 12: prompt id 7: pos 4 is outside clean_ids \(length 4\)$/);
  });

  it('schema-level checks hold without a model', () => {
    const none = { needCorrupt: false };
    expect(check({ pos: -1 }, none)).toThrow(/pos -1 is outside/);
    expect(check({ clean: [] }, none)).toThrow(/clean_ids is empty/);
    expect(check({ answer: -1 }, none)).toThrow(/answer id -1 is not a token id/);
    expect(check({ corrupt: [1, 2, 3, 4, 5] }, none)).toThrow(/differ in length/);
    expect(check({ answer: 99_999 }, none)).not.toThrow();
    expect(check({ corrupt: null }, none)).not.toThrow();
    expect(check({ corrupt: null }, { needCorrupt: true })).toThrow(/corrupt_ids is missing, but corrupted ablation needs/);
  });

  it('model-level checks: the vocabulary and learned positions', () => {
    expect(check({ answer: 50 })).toThrow(/answer id 50 is outside the model's vocabulary of 50/);
    expect(check({ foil: 1.5 })).toThrow(/foil id 1\.5 is outside/);
    expect(check({ clean: [1, 77, 3, 4] })).toThrow(/clean_ids holds token id 77, outside the model's vocabulary of 50/);
    expect(check({ corrupt: [1, 2, 3, 50] })).toThrow(/corrupt_ids holds token id 50/);
    const long = Array.from({ length: 17 }, () => 1);
    expect(check({ clean: long, corrupt: long })).toThrow(/17 tokens, longer than the model's 16 positions/);
    expect(check({ clean: long, corrupt: long }, { limits: { ...limits, positions: 'rotary' } })).not.toThrow();
    expect(() => validatePromptRows([], { source: 'p.arrow' })).toThrow(/p\.arrow: no prompts to score/);
  });

  it('a whole table, by its columns', () => {
    const columns = { id: [0, 1], clean_ids: [[1, 2], [1, 2]], corrupt_ids: [[1, 3], null], pos: [1, 2], answer: [4, 4], foil: [5, 5] };
    expect(() => validatePromptsTable(columns, { source: 't.arrow' })).toThrow(/^t\.arrow row 1: prompt id 1: pos 2 is outside clean_ids \(length 2\)$/);
  });
});
