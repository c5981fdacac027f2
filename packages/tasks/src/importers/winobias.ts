/**
 * Importer for WinoBias-style jsonl as the paper's reference code processed it
 * (winobias_{pro,anti}_stereotyped_type2_dev.jsonl). One row:
 *   id, sentence, orig_sentence (the sentence with the occupation and the pronoun in brackets),
 *   occupation (`the designer`), participant, pronoun (`her`), stereotype (`pro` | `anti`).
 *
 * Prompt: BOS and the sentence up to the bracketed pronoun; `pos` is the last prompt token. As in
 * the generated gender-bias task, `answer` is the MALE form of that pronoun and `foil` the FEMALE
 * form, tokenized in context; condition = stereotype; group = the occupation without `the`;
 * target_text = the sentence; no corrupted prompt. A bad row is recorded with its line and reason
 * (a `ct.rejects` table) and the other rows are imported.
 *
 * `her` is the female form of both `him` and `his`. With a counterpart file (the anti file for the
 * pro file and back; rows pair by id) the male form is read from the counterpart row. Without one,
 * or where the counterpart row is not a plain swap, a rule decides: `his` when a content word
 * follows, `him` when punctuation or a function word follows (about 90 % right on the reference
 * dev files; pass the counterpart for exact forms).
 */
import { ArtifactError } from '@circuit-tuning/contracts';
import type { Tokenizer } from '@circuit-tuning/model';
import { readFile } from 'node:fs/promises';
import { type PromptRow, type PromptsColumns, promptColumns } from '../datasets/rows';
import type { Split } from '../world/held-out';
import { type JsonlRow, readJsonlRecords, RowReader } from './jsonl';
import { noUsableRows, RejectLog, RowProblem } from './rejects';
import { bosOf, continuation } from './tokenize';

export type WinoBiasStereotype = 'pro' | 'anti';

export interface WinoBiasRecord {
  readonly line: number;
  /** 1-based row (blank lines are not rows). */
  readonly row: number;
  /** The row's fields as read. */
  readonly raw: Readonly<Record<string, unknown>>;
  readonly id: number;
  readonly sentence: string;
  /** Lower case, without a leading `the` (`designer`). */
  readonly occupation: string;
  readonly participant: string;
  /** Lower case, as written in the `pronoun` field. */
  readonly pronoun: string;
  readonly stereotype: WinoBiasStereotype;
  /** Character offset of the pronoun in `sentence` (the bracketed one in orig_sentence). */
  readonly pronounOffset: number;
}

const PRONOUN_FORMS: Readonly<Record<string, { male: string; female: string } | 'her'>> = {
  he: { male: 'he', female: 'she' },
  she: { male: 'he', female: 'she' },
  him: { male: 'him', female: 'her' },
  his: { male: 'his', female: 'her' },
  hers: { male: 'his', female: 'hers' },
  her: 'her',
};

/** Reads and checks the file. A bad row is an error, or with `rejects` recorded there and left out. */
export async function readWinoBiasJsonl(path: string, options: { rejects?: RejectLog } = {}): Promise<WinoBiasRecord[]> {
  return readJsonlRecords(path, readRecord, options);
}

function readRecord(path: string, row: JsonlRow): WinoBiasRecord {
  const r: RowReader = new RowReader(path, row);
  const id = r.int('id', { min: 0 });
  const sentence = r.string('sentence', { nonEmpty: true });
  const orig = r.string('orig_sentence', { nonEmpty: true });
  const occupation = normaliseOccupation(r.string('occupation', { nonEmpty: true }));
  const participant = normaliseOccupation(r.string('participant', { nonEmpty: true }));
  const pronoun = r.string('pronoun', { nonEmpty: true }).trim().toLowerCase();
  if (PRONOUN_FORMS[pronoun] === undefined) r.fail(`pronoun ${JSON.stringify(pronoun)} is not one of ${Object.keys(PRONOUN_FORMS).join(', ')}`);
  const stereotype = r.string('stereotype');
  if (stereotype !== 'pro' && stereotype !== 'anti') r.fail(`stereotype must be "pro" or "anti", got ${JSON.stringify(stereotype)}`);
  const pronounOffset = bracketedOffset(orig, sentence, pronoun, (problem) => r.fail(problem));
  return { line: row.line, row: row.row, raw: row.value, id, sentence, occupation, participant, pronoun, stereotype, pronounOffset };
}

/** An occupation list (one per line, blank lines ignored), lower case, as the reference code ships them. */
export async function readWinoBiasOccupations(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ArtifactError(path, 'cannot be read', { cause });
  }
  const words = text
    .split('\n')
    .map((line) => normaliseOccupation(line))
    .filter((line) => line !== '');
  if (words.length === 0) throw new ArtifactError(path, 'holds no occupations');
  return words;
}

export interface WinoBiasImportOptions {
  readonly tokenizer: Tokenizer;
  /** The paired file (anti for pro, pro for anti), to read the male form of `her` exactly. */
  readonly counterpart?: string;
  /** Split of every row (default `test`: WinoBias is an evaluation set). */
  readonly split?: Split;
  readonly task?: string;
}

export interface WinoBiasImport {
  readonly prompts: PromptsColumns;
  /** Rows in the file(s), imported or not. */
  readonly rows: number;
  readonly accepted: number;
  readonly rejects: RejectLog;
}

export async function importWinoBiasJsonl(path: string, options: WinoBiasImportOptions): Promise<WinoBiasImport> {
  const rejects = new RejectLog();
  const result = await winoBiasPromptRows(path, options, rejects);
  if (result.prompts.length === 0) throw noUsableRows(path, rejects, result.rows);
  return { prompts: promptColumns(result.prompts), rows: result.rows, accepted: result.prompts.length, rejects };
}

/** Both files as one table (pro rows, then anti rows), each the other's counterpart. */
export async function importWinoBias(files: { pro: string; anti: string }, options: Omit<WinoBiasImportOptions, 'counterpart'>): Promise<WinoBiasImport> {
  const rejects = new RejectLog();
  const pro = await winoBiasPromptRows(files.pro, { ...options, counterpart: files.anti }, rejects);
  if (pro.prompts.length === 0) throw noUsableRows(files.pro, rejects, pro.rows);
  const anti = await winoBiasPromptRows(files.anti, { ...options, counterpart: files.pro }, rejects);
  if (anti.prompts.length === 0) throw noUsableRows(files.anti, rejects, anti.rows);
  rejects.sort();
  return { prompts: promptColumns([...pro.prompts, ...anti.prompts]), rows: pro.rows + anti.rows, accepted: pro.prompts.length + anti.prompts.length, rejects };
}

/** The file's prompt rows; bad rows go to `rejects` (a bad counterpart row only loses its exact `her` form). */
async function winoBiasPromptRows(path: string, options: WinoBiasImportOptions, rejects: RejectLog): Promise<{ prompts: PromptRow[]; rows: number }> {
  const { tokenizer } = options;
  const bos = bosOf(tokenizer);
  const before = rejects.size;
  const records = await readWinoBiasJsonl(path, { rejects });
  const rows = records.length + rejects.size - before;
  const partners = new Map<number, WinoBiasRecord>();
  if (options.counterpart !== undefined) for (const rec of await readWinoBiasJsonl(options.counterpart, { rejects: new RejectLog() })) partners.set(rec.id, rec);
  const prompts: PromptRow[] = [];
  for (const rec of records) {
    const written = rec.sentence.slice(rec.pronounOffset, rec.pronounOffset + rec.pronoun.length);
    const forms = pronounForms(rec, partners.get(rec.id));
    const capital = written[0] !== undefined && written[0] !== written[0].toLowerCase();
    const cased = (word: string) => (capital ? word[0]!.toUpperCase() + word.slice(1) : word);
    const found = continuation(tokenizer, rec.sentence, rec.pronounOffset, [cased(forms.male), cased(forms.female)]);
    if ('reason' in found) {
      rejects.addProblem(new RowProblem(path, rec.line, found.reason, found.problem), rec.row, rec.raw);
      continue;
    }
    prompts.push({
      split: options.split ?? 'test',
      task: options.task ?? 'gender-bias',
      cleanText: found.prefixText,
      cleanIds: [bos, ...found.prefixIds],
      corruptText: null,
      corruptIds: null,
      pos: found.prefixIds.length,
      answer: found.tokens[0]!,
      foil: found.tokens[1]!,
      targetText: rec.sentence,
      condition: rec.stereotype,
      group: rec.occupation,
    });
  }
  return { prompts, rows };
}

/** The male and female forms of the row's pronoun (see the file comment for `her`). */
export function pronounForms(rec: WinoBiasRecord, partner?: WinoBiasRecord): { male: string; female: string } {
  const forms = PRONOUN_FORMS[rec.pronoun]!;
  if (forms !== 'her') return forms;
  if (partner !== undefined && partner.pronounOffset === rec.pronounOffset && (partner.pronoun === 'him' || partner.pronoun === 'his')) {
    return { male: partner.pronoun, female: 'her' };
  }
  return { male: herIsObject(rec.sentence.slice(rec.pronounOffset + rec.pronoun.length)) ? 'him' : 'his', female: 'her' };
}

/** Words after which `her` is an object (`told her that`, `her .`), not a possessive (`her car`). */
const OBJECT_FOLLOWERS = new Set(
  (
    'a an the to for in on at with about from into of that this these those some any each every all and or but so if because when ' +
    'while how what where why who whether not back up down out off over again as one it them him her me us you well instead ' +
    'anywhere anymore regularly tomorrow today yesterday something nothing anything everything home right away too very much ' +
    'enough more less later soon now then already still just once twice first last'
  ).split(' '),
);

export function herIsObject(after: string): boolean {
  const next = /^\s*([A-Za-z']+)/.exec(after);
  if (next === null) return true; // punctuation or the end
  return OBJECT_FOLLOWERS.has(next[1]!.toLowerCase());
}

function normaliseOccupation(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/^the\s+/, '')
    .trim();
}

/**
 * Offset in `sentence` of the first bracketed span of `orig` that is the pronoun; `orig` without
 * its brackets must be `sentence`.
 */
function bracketedOffset(orig: string, sentence: string, pronoun: string, fail: (problem: string) => never): number {
  let plain = '';
  let found = -1;
  let open = -1;
  for (const ch of orig) {
    if (ch === '[') {
      if (open >= 0) fail('orig_sentence has a bracket inside a bracket');
      open = plain.length;
    } else if (ch === ']') {
      if (open < 0) fail('orig_sentence closes a bracket it did not open');
      if (found < 0 && plain.slice(open).trim().toLowerCase() === pronoun) found = open + (plain.slice(open).length - plain.slice(open).trimStart().length);
      open = -1;
    } else plain += ch;
  }
  if (open >= 0) fail('orig_sentence leaves a bracket open');
  if (plain !== sentence) fail('orig_sentence without its brackets is not the sentence');
  if (found < 0) fail(`orig_sentence has no bracketed pronoun ${JSON.stringify(pronoun)}`);
  return found;
}
