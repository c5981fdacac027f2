import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArtifactError, ConfigError } from '@circuit-tuning/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectArtifactError, gpt2Tokenizer, tempDir, wordTokenizerFor, writeJsonl } from '../../test/support';
import { promptRows } from '../datasets/rows';
import { importPairs } from './pairs';

const gpt2 = await gpt2Tokenizer();
const tokenizer = wordTokenizerFor(['the key to the cabinets is are the keys to the cabinet', 'a dog near the cats runs run dogs cat', 'mary gave john the ball him her']);
let dir: string;

beforeAll(async () => {
  dir = await tempDir('ct-pairs-');
});

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('importPairs', () => {
  it('tokenizes each CSV pair with BOS first; pos is the clean prompt’s last token; answer and foil are single tokens', async () => {
    const path = await write('pairs.csv', 'clean,corrupted,answer,foil\nthe key to the cabinets,the keys to the cabinet,is,are\n"a dog near the cats",a dogs near the cat, runs ,run\n');
    const result = await importPairs(path, { tokenizer, splits: { train: 1, dev: 0, test: 0 } });
    expect(result).toMatchObject({ format: 'csv', rows: 2, accepted: 2 });
    expect(result.rejects.size).toBe(0);
    const rows = promptRows(result.prompts);
    const bos = tokenizer.bosTokenId!;
    expect(rows[0]).toMatchObject({ split: 'train', task: 'pairs', cleanText: 'the key to the cabinets', corruptText: 'the keys to the cabinet', pos: 5, condition: '', group: '', targetText: null });
    expect(rows[0]!.cleanIds).toEqual([bos, ...tokenizer.encode('the key to the cabinets')]);
    expect(rows[0]!.corruptIds).toEqual([bos, ...tokenizer.encode('the keys to the cabinet')]);
    expect(tokenizer.decode([rows[0]!.answer, rows[0]!.foil])).toBe('is are');
    // The spaces of ` runs ` belong to the field (RFC 4180); the word-level tokenizer drops them.
    expect(tokenizer.decode([rows[1]!.answer])).toBe('runs');
  });

  it('reads optional split, task, condition and group columns, maps column names, and splits the other rows by a hash', async () => {
    const lines = ['prompt\tcorrupt\tgood\tbad\tsplit\tcondition\tgroup'];
    for (let i = 0; i < 40; i++) lines.push(`the key to the cabinets${' '.repeat(i)}\tthe keys to the cabinet\tis\tare\t${i < 3 ? 'test' : ''}\tattractor\tkeys`);
    const path = await write('pairs.tsv', `${lines.join('\n')}\n`);
    const columns = { clean: 'prompt', corrupted: 'corrupt', answer: 'good', foil: 'bad' };
    const result = await importPairs(path, { tokenizer, columns, task: 'my-task' });
    const again = await importPairs(path, { tokenizer, columns, task: 'my-task' });
    expect(result).toMatchObject({ format: 'tsv', rows: 40, accepted: 40 });
    expect(again.prompts.split).toEqual(result.prompts.split);
    const rows = promptRows(result.prompts);
    expect(new Set(rows.map((r) => r.split))).toEqual(new Set(['train', 'dev', 'test']));
    expect(rows.every((r) => r.task === 'my-task' && r.condition === 'attractor' && r.group === 'keys')).toBe(true);
    expect(rows.filter((r) => r.split === 'test').length).toBeGreaterThanOrEqual(3);
  });

  it('reads JSON Lines as text, and token ids as given (CSV and JSONL)', async () => {
    const ids = (text: string) => [tokenizer.bosTokenId!, ...tokenizer.encode(text)];
    const [is, are] = [tokenizer.tokenToId('is')!, tokenizer.tokenToId('are')!];
    const jsonl = await writeJsonl(dir, 'text.jsonl', [{ clean: 'the key to the cabinets', corrupted: 'the keys to the cabinet', answer: 'is', foil: 'are', task: 'sv' }]);
    const text = promptRows((await importPairs(jsonl, { tokenizer })).prompts)[0]!;
    expect(text).toMatchObject({ task: 'sv', cleanIds: ids('the key to the cabinets'), answer: is, foil: are });
    const idsJsonl = await writeJsonl(dir, 'ids.jsonl', [{ clean: ids('the key to the cabinets'), corrupted: ids('the keys to the cabinet'), answer: is, foil: are }]);
    const fromIds = promptRows((await importPairs(idsJsonl, { tokenizer, tokens: 'ids' })).prompts)[0]!;
    expect(fromIds).toMatchObject({ cleanIds: text.cleanIds, corruptIds: text.corruptIds, pos: text.pos, answer: is, foil: are });
    const csv = await write('ids.csv', `clean,corrupted,answer,foil\n"[${ids('the key to the cabinets').join(', ')}]",${ids('the keys to the cabinet').join(' ')},${is},${are}\n`);
    const fromCsv = promptRows((await importPairs(csv, { tokenizer, tokens: 'ids' })).prompts)[0]!;
    expect(fromCsv).toMatchObject({ cleanIds: text.cleanIds, corruptIds: text.corruptIds, answer: is, foil: are });
  });

  it('rejects bad rows one by one, with row, line, reason and the raw fields, and imports the rest', async () => {
    const csv = [
      'clean,corrupted,answer,foil,split',
      'the key to the cabinets,the keys to the cabinet,is,are,', // line 2: good
      'the key to the cabinets,the keys to the cabinet is,is,are,', // 3: 6 vs 7 tokens
      'the key to the cabinets,the keys to the cabinet,is are,are,', // 4: two-token answer
      'the key to the zebras,the keys to the cabinet,is,are,', // 5: unknown word
      'the key to the cabinets,the keys to the cabinet,is,is,', // 6: same answer and foil
      'the key to the cabinets,,is,are,', // 7: empty corrupted prompt
      '"the key to the cabinets\nthe dog",the keys to the cabinet,is,are,', // 8-9: a multi-line field, 7 vs 6 tokens
      'the key to the cabinets,the keys to the cabinet,is,are,holdout', // 10: unknown split
      'a dog near the cats,a dogs near the cat,runs,run,test', // 11: good
    ].join('\n');
    const path = await write('bad.csv', `${csv}\n`);
    const result = await importPairs(path, { tokenizer });
    expect(result).toMatchObject({ rows: 9, accepted: 2 });
    expect(result.rejects.rejects.map((r) => [r.row, r.line, r.reason])).toEqual([
      [2, 3, 'length-mismatch'],
      [3, 4, 'multi-token-answer'],
      [4, 5, 'unknown-token'],
      [5, 6, 'same-answer-foil'],
      [6, 7, 'empty-field'],
      [7, 8, 'length-mismatch'],
      [8, 10, 'bad-field'],
    ]);
    const [length, multi, unknown] = result.rejects.rejects;
    expect(length!.message).toMatch(/^clean and corrupted prompts differ in length \(5 vs 6 tokens\) \(corrupted ablation patches position by position/);
    expect(multi!.message).toMatch(/^answer "is are" is 2 tokens \("is" "are"\), but the answer must be one token/);
    expect(unknown!.message).toBe("field 'clean' holds 'zebras' that the tokenizer does not know (it encodes to the unknown token)");
    expect(length!.raw).toEqual({ clean: 'the key to the cabinets', corrupted: 'the keys to the cabinet is', answer: 'is', foil: 'are', split: '' });
    expect(result.rejects.counts()).toEqual({ 'bad-field': 1, 'empty-field': 1, 'length-mismatch': 2, 'multi-token-answer': 1, 'same-answer-foil': 1, 'unknown-token': 1 });
    const columns = result.rejects.columns();
    expect(Array.from(columns.line)).toEqual([3, 4, 5, 6, 7, 8, 10]);
    expect(JSON.parse(columns.raw[0]!)).toEqual(length!.raw);
  });

  it.skipIf(gpt2 === undefined)("refuses a multi-token GPT-2 answer with the hint to add the leading space", async () => {
    const tok = gpt2!;
    const path = await write('gpt2.csv', 'clean,corrupted,answer,foil\nThe capital of Italy is,The capital of Spain is,Rome,Madrid\nThe capital of Italy is,The capital of Spain is, Rome, Madrid\n');
    const result = await importPairs(path, { tokenizer: tok });
    expect(result.accepted).toBe(1);
    const reject = result.rejects.rejects[0]!;
    expect(reject).toMatchObject({ line: 2, reason: 'multi-token-answer' });
    expect(reject.message).toMatch(/^answer "Rome" is 2 tokens \("R" "ome"\), but the answer must be one token \(with a leading space, " Rome" is one token/);
    const row = promptRows(result.prompts)[0]!;
    expect(row.cleanIds[0]).toBe(50256);
    expect(tok.decode([row.answer, row.foil])).toBe(' Rome Madrid');
  });

  it('fails a file with no usable row, a header without the columns, and a name whose format is unknown', async () => {
    const none = await write('none.csv', 'clean,corrupted,answer,foil\nthe key,the keys to,is,are\n');
    await expectArtifactError(importPairs(none, { tokenizer }), none, /no usable row: all 1 rows were rejected \(1 length-mismatch\); first, line 2: clean and corrupted prompts differ in length/);
    const header = await write('header.csv', 'prompt,corrupted,answer,foil\nthe key,the keys,is,are\n');
    await expectArtifactError(importPairs(header, { tokenizer }), header, /line 1: no column 'clean' in the header \(prompt, corrupted, answer, foil\)/);
    const malformed = await write('malformed.csv', 'clean,corrupted,answer,foil\nthe key,"the keys,is,are\n');
    await expectArtifactError(importPairs(malformed, { tokenizer }), malformed, /line 2: a quoted field is never closed/);
    const count = await write('count.csv', 'clean,corrupted,answer,foil\nthe key, to the cabinets,the keys,is,are\n');
    await expectArtifactError(importPairs(count, { tokenizer }), count, /line 2: 5 fields, but the header has 4/);
    const headerOnly = await write('header-only.csv', 'clean,corrupted,answer,foil\n');
    await expectArtifactError(importPairs(headerOnly, { tokenizer }), headerOnly, /holds a header but no rows/);
    await expect(importPairs(join(dir, 'pairs.txt'), { tokenizer })).rejects.toThrow(ConfigError);
    await expect(importPairs(join(dir, 'missing.csv'), { tokenizer })).rejects.toThrow(ArtifactError);
    const badIds = await writeJsonl(dir, 'bad-ids.jsonl', [{ clean: [2, 99999], corrupted: [2, 5], answer: 5, foil: 6 }]);
    await expectArtifactError(importPairs(badIds, { tokenizer, tokens: 'ids' }), badIds, /first, line 1: clean\[1\] = 99999 is outside the tokenizer's vocabulary/);
  });
});
