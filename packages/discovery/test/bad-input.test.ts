import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, ContractError, TextsTable } from '@circuit-tuning/contracts';
import { createWordLevelTokenizer, saveModel, TransformerModel } from '@circuit-tuning/model';
import { silentReporter, writeArrowTable } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PromptExample, readPrompts, runDiscovery, scoreEdges, validatePrompts } from '../src/index';
import { asSet, randomExamples, tinyConfig, tinyGpt2Dir, tinyRandomModel, writePrompts } from './fixtures';

const limits = { vocabSize: 50, maxPositions: 16, learnedPositions: true };
const good = (): PromptExample => ({ id: 3, clean: [1, 2, 3, 4], corrupt: [1, 2, 9, 4], pos: 3, answer: 5, foil: 6 });
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'discovery-bad-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (promptsPath: string, modelDir = tinyGpt2Dir, config: unknown = {}) =>
  runDiscovery({ variant: 'eap', modelDir, promptsPath, stageDir: join(dir, `stage-${Math.random().toString(36).slice(2)}`), config, reporter: silentReporter });

describe('bad input gives clear errors', () => {
  it('clean and corrupted prompts of different lengths', async () => {
    expect(() => validatePrompts([{ ...good(), corrupt: [1, 2, 3] }], limits, { needCorrupt: true })).toThrow(
      /prompt id 3: clean and corrupted prompts differ in length \(4 vs 3 tokens\)/,
    );
    const path = join(dir, 'lengths.arrow');
    await writePrompts(path, [good(), { ...good(), id: 4, corrupt: [1, 2, 3, 4, 5] }]);
    await expect(run(path)).rejects.toThrow(/prompt id 4: clean and corrupted prompts differ in length \(4 vs 5 tokens\)/);
  });

  it('answer or prompt ids outside the vocabulary', async () => {
    expect(() => validatePrompts([{ ...good(), answer: 50 }], limits, { needCorrupt: true })).toThrow(/answer id 50 is outside the model's vocabulary of 50/);
    expect(() => validatePrompts([{ ...good(), foil: -1 }], limits, { needCorrupt: true })).toThrow(/foil id -1 is outside/);
    expect(() => validatePrompts([{ ...good(), clean: [1, 2, 77, 4] }], limits, { needCorrupt: true })).toThrow(/clean_ids holds token id 77/);
    const path = join(dir, 'vocab.arrow');
    await writePrompts(path, [{ ...good(), answer: 1234 }]);
    await expect(run(path)).rejects.toThrow(ContractError);
    await expect(run(path)).rejects.toThrow(/answer id 1234 is outside the model's vocabulary of 50/);
  });

  it('positions outside the prompt, prompts longer than the model, missing corruptions', () => {
    expect(() => validatePrompts([{ ...good(), pos: 4 }], limits, { needCorrupt: true })).toThrow(/pos 4 is outside clean_ids \(length 4\)/);
    const long = Array.from({ length: 17 }, () => 1);
    expect(() => validatePrompts([{ ...good(), clean: long, corrupt: long }], limits, { needCorrupt: true })).toThrow(/17 tokens, longer than the model's 16 positions/);
    expect(() => validatePrompts([{ ...good(), corrupt: undefined }], limits, { needCorrupt: true })).toThrow(/corrupt_ids is missing.*corrupted ablation/);
    expect(() => validatePrompts([{ ...good(), corrupt: undefined }], limits, { needCorrupt: false })).not.toThrow();
    expect(() => validatePrompts([], limits, { needCorrupt: false })).toThrow(/no prompts to score/);
  });

  it('a prompts table with another schema', async () => {
    const path = join(dir, 'texts.arrow');
    await writeArrowTable(path, TextsTable, { id: [1], split: ['train'], task: ['t'], text: ['a b'], ids: [[1, 2]], target_positions: [[]] }, { producer: 'test' });
    await expect(readPrompts(path)).rejects.toThrow(/texts\.arrow.*ct\.texts.*ct\.prompts|texts\.arrow.*ct\.prompts/s);
    await expect(run(path)).rejects.toThrow(/texts\.arrow/);
    const notArrow = join(dir, 'junk.arrow');
    await writeFile(notArrow, 'not an arrow file');
    await expect(readPrompts(notArrow)).rejects.toThrow(/junk\.arrow/);
  });

  it('a filter that leaves no prompts', async () => {
    const path = join(dir, 'filtered.arrow');
    await writePrompts(path, [good()]);
    await expect(readPrompts(path, { split: 'test' })).rejects.toThrow(/no prompts for split 'test'/);
  });

  it("prompts tokenized for another model's tokenizer", async () => {
    // The model's tokenizer numbers words one way; the prompts were made with another numbering.
    const words = Array.from({ length: 47 }, (_, i) => `w${i}`);
    const model = await TransformerModel.random(tinyConfig, 1, createWordLevelTokenizer({ words }));
    const modelDir = join(dir, 'word-model');
    await saveModel(model, modelDir);
    const other = createWordLevelTokenizer({ words: [...words].reverse() });
    const text = 'w1 w2 w3 w4';
    const ids = other.encode(text);
    const path = join(dir, 'other-tokenizer.arrow');
    await writePrompts(path, [{ id: 0, clean: ids, corrupt: ids, pos: 3, answer: 5, foil: 6 }], [text]);
    await expect(run(path, modelDir)).rejects.toThrow(/model\/tokenizer mismatch: prompt id 0 \('w1 w2 w3 w4'\) encodes to/);
    // The same ids pass when the check is off, and prompts made with the model's own tokenizer pass.
    const own = model.tokenizer!.encode(text);
    const okPath = join(dir, 'own-tokenizer.arrow');
    await writePrompts(okPath, [{ id: 0, clean: own, corrupt: own, pos: 3, answer: 5, foil: 6 }], [text]);
    await expect(run(okPath, modelDir, { curve: { enabled: false }, draw: { png: false } })).resolves.toBeDefined();
    model.dispose();
  });

  it('a model directory whose tokenizer does not fit its vocabulary', async () => {
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`);
    const model = await TransformerModel.random(tinyConfig, 1, createWordLevelTokenizer({ words }));
    const modelDir = join(dir, 'mismatched-model');
    await saveModel(model, modelDir);
    model.dispose();
    const path = join(dir, 'plain.arrow');
    await writePrompts(path, [good()]);
    await expect(run(path, modelDir)).rejects.toThrow(/model\/tokenizer mismatch.*63 tokens.*vocab_size 50/);
  });

  it('unknown config keys, metrics and methods; exact patching of too many edges', async () => {
    const path = join(dir, 'config.arrow');
    await writePrompts(path, [good()]);
    await expect(run(path, tinyGpt2Dir, { metrc: 'kl' })).rejects.toThrow(/unknown config key 'metrc' \(did you mean 'metric'\?\)/);
    await expect(run(path, tinyGpt2Dir, { metric: 'accuracy' })).rejects.toThrow(/unknown metric 'accuracy'; valid: .*logit-diff/);
    await expect(runDiscovery({ variant: 'acdc', modelDir: tinyGpt2Dir, promptsPath: path, stageDir: join(dir, 'x') })).rejects.toThrow(ConfigError);
    const model = await tinyRandomModel();
    await expect(scoreEdges(model, asSet(randomExamples({ seed: 1, count: 1, lengths: [4], vocab: 50 })), { method: 'exact', maxExactEdges: 100 })).rejects.toThrow(
      /exact patching of 110 edges/,
    );
    model.dispose();
  });
});

describe('selection sizes (issue 14, finding 9)', () => {
  it('refuses top-0 and a top-N above the graph edge count, naming the key and the edge count', async () => {
    const path = join(dir, 'selection.arrow');
    await writePrompts(path, [good()]);
    await expect(run(path, tinyGpt2Dir, { selection: { n: 0 } })).rejects.toThrow(ConfigError);
    await expect(run(path, tinyGpt2Dir, { selection: { n: 0 } })).rejects.toThrow(/selection\.n.*must be at least 1: top-0 selects no edge, an empty circuit/s);
    // The golden tiny GPT-2 (2 layers × 4 heads) has 110 edges in the full graph.
    await expect(run(path, tinyGpt2Dir, { selection: { n: 50_000 } })).rejects.toThrow(ConfigError);
    await expect(run(path, tinyGpt2Dir, { selection: { n: 50_000 } })).rejects.toThrow(
      /selection\.n is 50,000, but the full graph of this model \(2 layers × 4 heads\) has 110 edges/,
    );
    // The whole graph, asked for exactly, and a fraction are fine.
    const fast = { curve: { enabled: false }, draw: { svg: false, png: false } };
    await expect(run(path, tinyGpt2Dir, { ...fast, selection: { n: 110 } })).resolves.toBeDefined();
    await expect(run(path, tinyGpt2Dir, { ...fast, selection: { fraction: 1 } })).resolves.toBeDefined();
  });
});
