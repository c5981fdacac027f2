import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TextsTable } from '@circuit-tuning/contracts';
import { createWordLevelTokenizer, gpt2Config, saveModel, TransformerModel } from '@circuit-tuning/model';
import { writeArrowTable } from '@circuit-tuning/runtime';

const words = ['one', 'two', 'three', 'four', 'five', 'six', '.'];

/** A temp directory with a word-level tokenizer, a tiny random model using it, and a texts table. */
export async function fixture() {
  const dir = await mkdtemp(join(tmpdir(), 'ct-full-'));
  const tokenizer = createWordLevelTokenizer({ words });
  const tokenizerDir = join(dir, 'tokenizer');
  await mkdir(tokenizerDir);
  await tokenizer.save(tokenizerDir);
  const texts = Array.from({ length: 40 }, (_, i) => words.slice(i % 3, (i % 3) + 4).join(' ') + ' .');
  const ids = texts.map((t) => [tokenizer.bosTokenId!, ...tokenizer.encode(t)]);
  await writeArrowTable(
    join(dir, 'texts.arrow'),
    TextsTable,
    {
      id: Int32Array.from(texts.map((_, i) => i)),
      split: texts.map((_, i) => (i % 10 === 0 ? 'dev' : 'train')),
      task: texts.map(() => 'counting'),
      text: texts,
      ids,
      target_positions: texts.map(() => []),
    },
    { producer: 'test' },
  );
  const modelDir = join(dir, 'model');
  const model = await TransformerModel.random(gpt2Config({ nLayers: 1, nHeads: 2, dModel: 16, vocabSize: tokenizer.vocabSize, maxPositions: 16 }), 7, tokenizer);
  await saveModel(model, modelDir);
  model.dispose();
  return { dir, tokenizerDir, modelDir, texts: join(dir, 'texts.arrow') };
}


/** One row of the prompts fixture, as its ids. */
export interface PromptIds {
  clean: number[];
  corrupt: number[];
  pos: number;
  answer: number;
  foil: number;
}

/**
 * A prompts table over the fixture's words: clean/corrupt pairs of equal length, answer and foil.
 * `edit` may change rows (the bad-input tests break one); `name` is the file's name.
 */
export async function promptsFixture(dir: string, options: { name?: string; edit?: (row: PromptIds, index: number) => PromptIds } = {}): Promise<string> {
  const { PromptsTable } = await import('@circuit-tuning/contracts');
  const tokenizer = createWordLevelTokenizer({ words });
  const id = (w: string) => tokenizer.tokenToId(w)!;
  const rows = Array.from({ length: 24 }, (_, i) => {
    const first = words[i % 3]!;
    const clean = [tokenizer.bosTokenId!, id(first), id('two'), id('three')];
    const corrupt = [tokenizer.bosTokenId!, id(words[(i + 1) % 3]!), id('two'), id('three')];
    const row: PromptIds = { clean, corrupt, pos: 3, answer: id(i % 2 ? 'four' : 'five'), foil: id(i % 2 ? 'five' : 'four') };
    return options.edit ? options.edit(row, i) : row;
  });
  const path = join(dir, options.name ?? 'prompts.arrow');
  await writeArrowTable(
    path,
    PromptsTable,
    {
      id: Int32Array.from(rows.map((_, i) => i)),
      split: rows.map((_, i) => (i < 20 ? 'train' : 'test')),
      task: rows.map(() => 'toy'),
      clean_text: rows.map(() => ''),
      clean_ids: rows.map((r) => r.clean),
      corrupt_text: rows.map(() => ''),
      corrupt_ids: rows.map((r) => r.corrupt),
      pos: Int32Array.from(rows.map((r) => r.pos)),
      answer: Int32Array.from(rows.map((r) => r.answer)),
      foil: Int32Array.from(rows.map((r) => r.foil)),
      target_text: rows.map(() => null),
      condition: rows.map(() => ''),
      group: rows.map(() => ''),
    },
    { producer: 'test' },
  );
  return path;
}
