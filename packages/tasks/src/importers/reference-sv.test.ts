import { readFile } from 'node:fs/promises';
import { ConfigError } from '@circuit-tuning/contracts';
import type { Tokenizer } from '@circuit-tuning/model';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectArtifactError, gpt2Tokenizer, SV_FILE, tempDir, wordTokenizerFor, writeJsonl } from '../../test/support';
import { promptRows, textRows } from '../datasets/rows';
import { importReferenceSubjectVerbJsonl, readReferenceSubjectVerbJsonl } from './reference-sv';

const gpt2 = await gpt2Tokenizer();

/** A row in the reference format for a word-level tokenizer (positions count words, no BOS). */
function svRow(tokenizer: Tokenizer, clean: string, corr: string, verbs: readonly (readonly [number, string, string])[]) {
  const cleanIds = tokenizer.encode(clean);
  const corrIds = tokenizer.encode(corr);
  return {
    clean_text: clean,
    corr_text: corr,
    clean_verb_pos: verbs.map(([p]) => p),
    corr_verb_pos: verbs.map(([p]) => p),
    clean_verb_ids: verbs.map(([p]) => cleanIds[p]!),
    corr_verb_ids: verbs.map(([p]) => corrIds[p]!),
    clean_verbs: verbs.map(([, c]) => c),
    corr_verbs: verbs.map(([, , f]) => f),
  };
}

const SENTENCES = [
  ['the key to the cabinets is red .', 'the key to the cabinets are red .', [[5, 'is', 'are']]],
  ['the dogs that the cat sees run and the bird sings .', 'the dogs that the cat see runs and the bird sing .', [[5, 'sees', 'see'], [6, 'run', 'runs'], [10, 'sings', 'sing']]],
  ['we know it is here and it is late .', 'we knows it are here and it are late .', [[1, 'know', 'knows'], [3, 'is', 'are'], [3, 'is', 'are']]],
] as const;
const tokenizer = wordTokenizerFor([...SENTENCES.map(([clean]) => clean as string), ...SENTENCES.map(([, corr]) => corr as string)]);
let file: string;
let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  // The third row repeats the first `is`'s position for the second `is`, as the reference code does.
  file = await writeJsonl(dir, 'sv.jsonl', SENTENCES.map(([clean, corr, verbs]) => svRow(tokenizer, clean, corr, verbs)));
});

describe('readReferenceSubjectVerbJsonl', () => {
  it('reads the shared sample: 300 rows, 461 verbs, and flags the repeated positions of the reference code', async () => {
    const records = await readReferenceSubjectVerbJsonl(SV_FILE);
    expect(records).toHaveLength(300);
    expect(records.reduce((n, r) => n + r.verbs.length, 0)).toBe(461);
    expect(records[0]!.verbs.map((v) => [v.cleanPos, v.clean, v.corr])).toEqual([
      [18, 'know', 'knows'],
      [20, 'is', 'are'],
    ]);
    const repeatedLines = records.filter((r) => r.verbs.some((v) => v.repeated)).map((r) => r.line);
    expect(repeatedLines).toEqual([41, 69, 78, 198, 231]);
  });
});

describe('importReferenceSubjectVerbJsonl', () => {
  it('makes one disagreement prompt per verb, with BOS and pos = the position before the verb', async () => {
    const result = await importReferenceSubjectVerbJsonl(file, { tokenizer, splits: { train: 1, dev: 0, test: 0 } });
    expect(result.positions).toBe('file');
    const rows = promptRows(result.prompts);
    expect(rows).toHaveLength(7);
    const bos = tokenizer.bosTokenId!;
    for (const row of rows) {
      expect(row.cleanIds[0]).toBe(bos);
      expect(row.pos).toBe(row.cleanIds.length - 1);
      expect(tokenizer.encode(row.cleanText)).toEqual(row.cleanIds.slice(1));
      expect(row.task).toBe('sv-disagreement');
      expect(row.split).toBe('train');
      // The flipped verb follows pos in the target sentence.
      expect([bos, ...tokenizer.encode(row.targetText!)][row.pos + 1]).toBe(row.answer);
    }
    expect(rows[0]!.cleanText).toBe('the key to the cabinets');
    expect(rows[0]!.pos).toBe(5);
    expect(tokenizer.decode([rows[0]!.answer, rows[0]!.foil])).toBe('are is');
    // The repeated position is moved to the second `is`.
    expect(rows.slice(5).map((r) => r.cleanText)).toEqual(['we know it', 'we know it is here and it']);
    const texts = textRows(result.texts);
    expect(texts.map((t) => t.targetPositions)).toEqual([[5], [5, 6, 10], [1, 3, 7]]);
    for (const t of texts) for (const p of t.targetPositions) expect(t.ids[p + 1]).toBeDefined();
  });

  it('swaps answer and foil for the agreement target, and keeps only the first verb when asked', async () => {
    const result = await importReferenceSubjectVerbJsonl(file, { tokenizer, target: 'agreement', verbs: 'first' });
    const rows = promptRows(result.prompts);
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.task === 'sv-agreement')).toBe(true);
    expect(tokenizer.decode([rows.find((r) => r.cleanText === 'the key to the cabinets')!.answer])).toBe('is');
    expect(textRows(result.texts).map((t) => t.text)).toEqual(SENTENCES.map(([clean]) => clean));
  });

  it('finds the verbs in the text when the file positions do not fit the tokenizer', async () => {
    // Positions that are wrong for this tokenizer (as GPT-2 positions would be for a word-level one).
    const rows = SENTENCES.map(([clean, corr, verbs]) => ({ ...svRow(tokenizer, clean, corr, verbs), clean_verb_ids: verbs.map(() => 9999), corr_verb_ids: verbs.map(() => 9999) }));
    const shifted = await writeJsonl(dir, 'shifted.jsonl', rows);
    const result = await importReferenceSubjectVerbJsonl(shifted, { tokenizer });
    expect(result.positions).toBe('search');
    const reference = await importReferenceSubjectVerbJsonl(file, { tokenizer });
    expect(result.prompts.clean_ids).toEqual(reference.prompts.clean_ids);
    expect(result.prompts.answer).toEqual(reference.prompts.answer);
    expect(result.texts.target_positions).toEqual(reference.texts.target_positions);
  });

  it('splits rows deterministically, all prompts of a row together', async () => {
    const result = await importReferenceSubjectVerbJsonl(file, { tokenizer, splits: { train: 1, dev: 1, test: 1 } });
    const again = await importReferenceSubjectVerbJsonl(file, { tokenizer, splits: { train: 1, dev: 1, test: 1 } });
    expect(again.prompts.split).toEqual(result.prompts.split);
    const byTarget = new Map<string, Set<string>>();
    for (const r of promptRows(result.prompts)) byTarget.set(r.targetText!, (byTarget.get(r.targetText!) ?? new Set()).add(r.split));
    for (const splits of byTarget.values()) expect(splits.size).toBe(1);
  });

  it('rejects verbs the tokenizer cannot produce as one known token, with the line, and imports the other rows', async () => {
    await expectArtifactError(
      importReferenceSubjectVerbJsonl(SV_FILE, { tokenizer: wordTokenizerFor([]) }),
      SV_FILE,
      /no usable row: all 300 rows were rejected \(20 not-single-token, 280 unknown-token\); first, line 1: 'know' is not in the tokenizer's vocabulary/,
    );
    // A word-level tokenizer keeps `you're` whole, so the verb `'re` is no token of its own.
    const records = await readReferenceSubjectVerbJsonl(SV_FILE);
    const words = wordTokenizerFor(records.flatMap((r) => [r.cleanText, r.corrText, ...r.verbs.flatMap((v) => [v.clean, v.corr])]));
    const result = await importReferenceSubjectVerbJsonl(SV_FILE, { tokenizer: words });
    expect(result).toMatchObject({ positions: 'search', rows: 300, accepted: 271, salvaged: 0 });
    expect(result.rejects.counts()).toEqual({ 'not-single-token': 29 });
    expect(result.rejects.rejects[0]).toMatchObject({ file: SV_FILE, row: 2, line: 2, reason: 'not-single-token' });
    expect(result.rejects.rejects[0]!.message).toMatch(/^''re' after .* is not a single token/);
    expect((result.rejects.rejects[0]!.raw as { clean_verbs: string[] }).clean_verbs).toEqual(records[1]!.verbs.map((v) => v.clean));
  });

  it('needs a tokenizer with a BOS token', async () => {
    await expect(importReferenceSubjectVerbJsonl(file, {} as never)).rejects.toThrow(ConfigError);
  });

  it.skipIf(gpt2 === undefined)('imports the shared sample with GPT-2 using the file positions', async () => {
    const tok = gpt2!;
    const result = await importReferenceSubjectVerbJsonl(SV_FILE, { tokenizer: tok });
    expect(result.positions).toBe('file');
    // Every row of the sample fits GPT-2's tokenization: nothing to reject or salvage.
    expect(result).toMatchObject({ rows: 300, accepted: 300, salvaged: 0 });
    expect(result.rejects.size).toBe(0);
    const rows = promptRows(result.prompts);
    expect(rows).toHaveLength(461);
    expect(rows[0]!.cleanText).toBe("And if you can enjoy a milkshake when it's -10C, then you");
    expect(rows[0]!.pos).toBe(18); // the file's clean_verb_pos: with BOS counted, the token before the verb
    expect(tok.decode([rows[0]!.answer, rows[0]!.foil])).toBe(' knows know');
    for (const row of rows) {
      expect(row.cleanIds[0]).toBe(50256);
      expect(row.pos).toBe(row.cleanIds.length - 1);
    }
    for (const text of textRows(result.texts)) {
      expect(text.ids.slice(1)).toEqual(tok.encode(text.text, { parseSpecialTokens: false }));
      expect(new Set(text.targetPositions).size).toBe(text.targetPositions.length);
    }
  });
  it.skipIf(gpt2 === undefined)('salvages a row whose file positions miss its verbs, and rejects a verb glued to a quote mark', async () => {
    const tok = gpt2!;
    const lines = (await readFile(SV_FILE, 'utf8')).split('\n').filter((l) => l.trim() !== '').slice(0, 3);
    const first = JSON.parse(lines[0]!) as { clean_verb_pos: number[]; corr_verb_pos: number[] };
    // Row 2: positions one token off (the verbs are still words of the text): salvaged by searching them.
    const shifted = { ...first, clean_verb_pos: first.clean_verb_pos.map((p) => p + 1), corr_verb_pos: first.corr_verb_pos.map((p) => p + 1) };
    // Row 3: `"is` — the file's id is ` is` (with its space), which this sentence never has.
    const glued = svRow(tok, 'He said "is it over" and left.', 'He said "are it over" and left.', [[3, 'is', 'are']]);
    const gluedFile = { ...glued, clean_verb_ids: [tok.encode(' is')[0]], corr_verb_ids: [tok.encode(' are')[0]] };
    const path = await writeJsonl(dir, 'salvage.jsonl', [lines[0]!, shifted, gluedFile, lines[1]!, lines[2]!]);
    const result = await importReferenceSubjectVerbJsonl(path, { tokenizer: tok });
    expect(result).toMatchObject({ positions: 'file', rows: 5, accepted: 4, salvaged: 1 });
    expect(result.rejects.rejects.map((r) => [r.line, r.reason])).toEqual([[3, 'verb-mismatch']]);
    expect(result.rejects.rejects[0]!.message).toMatch(/clean_verb_pos\[0\] = 3 holds token 271 \("is"\) but clean_verb_ids\[0\] is 318 \(" is"\)/);
    // The salvaged row gives the same prompts as the row with the right positions.
    const rows = promptRows(result.prompts);
    const fromFirst = rows.filter((r) => r.targetText === rows[0]!.targetText);
    expect(fromFirst).toHaveLength(4);
    expect(fromFirst.slice(2).map((r) => r.cleanIds)).toEqual(fromFirst.slice(0, 2).map((r) => r.cleanIds));
    expect(fromFirst.slice(2).map((r) => [r.answer, r.foil])).toEqual(fromFirst.slice(0, 2).map((r) => [r.answer, r.foil]));
  });

});

describe('bad rows', () => {
  const good = () => svRow(tokenizer, SENTENCES[0][0], SENTENCES[0][1], SENTENCES[0][2]);
  const cases: [string, (object | string)[], string, RegExp][] = [
    ['invalid JSON', [good(), '{"clean_text": '], 'invalid-json', /line 2: not valid JSON/],
    ['a non-object', [good(), good(), '[1, 2]'], 'not-an-object', /line 3: expected a JSON object, got an array/],
    ['a missing field', [good(), { ...good(), corr_text: undefined }], 'missing-field', /line 2: missing field 'corr_text'/],
    ['a wrong type', [{ ...good(), clean_verb_pos: ['5'] }, good()], 'bad-field', /line 1: field 'clean_verb_pos'\[0\] must be an integer, got the string "5"/],
    ['a negative position', [{ ...good(), clean_verb_pos: [-1] }, good()], 'bad-field', /line 1: field 'clean_verb_pos'\[0\] must be at least 0/],
    ['mismatched lengths', [good(), { ...good(), corr_verbs: ['are', 'is'] }], 'bad-field', /line 2: mismatched lengths: .*corr_verbs has 2/],
    ['no verbs', [{ ...good(), clean_verb_pos: [], corr_verb_pos: [], clean_verb_ids: [], corr_verb_ids: [], clean_verbs: [], corr_verbs: [] }, good()], 'empty-field', /line 1: no verbs/],
    ['a position past the text', [{ ...good(), clean_verb_pos: [999] }, good()], 'bad-field', /line 1: clean_verb_pos\[0\] = 999 is out of range/],
    [
      'decreasing positions',
      [{ ...good(), clean_verb_pos: [5, 2], corr_verb_pos: [5, 2], clean_verb_ids: [1, 2], corr_verb_ids: [1, 2], clean_verbs: ['is', 'is'], corr_verbs: ['are', 'are'] }, good()],
      'bad-field',
      /line 1: clean_verb_pos must increase/,
    ],
    ['an empty verb', [{ ...good(), clean_verbs: [' '] }, good()], 'empty-field', /line 1: clean_verbs\[0\] is empty/],
  ];

  it.each(cases)('reads %s as an error with its line; the importer rejects that row and imports the other', async (_, lines, reason, pattern) => {
    const path = await writeJsonl(dir, 'bad.jsonl', lines);
    await expectArtifactError(readReferenceSubjectVerbJsonl(path), path, pattern);
    const result = await importReferenceSubjectVerbJsonl(path, { tokenizer });
    expect(result).toMatchObject({ rows: lines.length, accepted: lines.length - 1 });
    expect(result.prompts.id).toHaveLength(lines.length - 1);
    expect(result.rejects.size).toBe(1);
    const reject = result.rejects.rejects[0]!;
    expect(reject.reason).toBe(reason);
    expect(`line ${reject.line}: ${reject.message}`).toMatch(pattern);
    expect(result.rejects.counts()).toEqual({ [reason]: 1 });
  });

  it('fails a file whose every row is bad, naming the file, the reasons and the first problem', async () => {
    const path = await writeJsonl(dir, 'all-bad.jsonl', ['{"clean_text": ', { ...good(), corr_text: undefined }]);
    await expectArtifactError(
      importReferenceSubjectVerbJsonl(path, { tokenizer }),
      path,
      /no usable row: all 2 rows were rejected \(1 invalid-json, 1 missing-field\); first, line 1: not valid JSON/,
    );
  });

  it('rejects, in file mode, a position past the tokens and a position holding another token (the verb is not in the text to salvage it)', async () => {
    const other = svRow(tokenizer, 'the key to the cabinets is red .', 'the key to the cabinets are red .', [[5, 'is', 'are']]);
    const path = await writeJsonl(dir, 'range.jsonl', [good(), good(), { ...other, clean_verb_pos: [20], clean_verbs: ['was'] }, { ...other, clean_verb_pos: [4], clean_verbs: ['was'] }]);
    const result = await importReferenceSubjectVerbJsonl(path, { tokenizer, positions: 'file' });
    expect(result).toMatchObject({ rows: 4, accepted: 2, salvaged: 0 });
    expect(result.rejects.rejects.map((r) => [r.line, r.reason])).toEqual([
      [3, 'verb-mismatch'],
      [4, 'verb-mismatch'],
    ]);
    expect(result.rejects.rejects[0]!.message).toMatch(/^clean_verb_pos\[0\] = 20 is out of range: clean_text has 8 tokens/);
    expect(result.rejects.rejects[1]!.message).toMatch(/^clean_verb_pos\[0\] = 4 holds token \d+ \("cabinets"\) but clean_verb_ids\[0\] is \d+ \("is"\)/);
  });

  it('reports a missing file and an empty file', async () => {
    const missing = `${dir}/missing.jsonl`;
    await expectArtifactError(readReferenceSubjectVerbJsonl(missing), missing, /not found/);
    await expectArtifactError(importReferenceSubjectVerbJsonl(missing, { tokenizer }), missing, /not found/);
    const empty = await writeJsonl(dir, 'empty.jsonl', []);
    await expectArtifactError(readReferenceSubjectVerbJsonl(empty), empty, /holds no rows/);
  });
});
