/**
 * Importer for the subject-verb jsonl of the paper's reference code (the format of
 * fixtures/reference/reference-code-tasks/sv_dev_sample300.jsonl). One row:
 *   clean_text, corr_text            the sentence, and the sentence with every present-tense verb flipped
 *   clean_verb_pos, corr_verb_pos    GPT-2 token index of each verb, counted WITHOUT a BOS token
 *   clean_verb_ids, corr_verb_ids    GPT-2 token id of each verb (with its leading space)
 *   clean_verbs, corr_verbs          the verbs as text
 *
 * Conversion (decided here, see the package README):
 * - one prompt per verb (option `verbs: 'first'` keeps only the first): BOS and the clean sentence
 *   up to that verb; `pos` is the last prompt token, so with BOS counted `pos` equals the file's
 *   `clean_verb_pos` (the verb is token pos + 1). Earlier verbs in the prompt are the clean ones.
 * - target `disagreement` (default, the paper's task): answer = the flipped verb, foil = the clean
 *   verb, target_text = corr_text. Target `agreement` swaps answer and foil, target_text = clean_text.
 * - no corrupted prompt (corr_text is not token-aligned with clean_text; the reference code
 *   ablates with means of clean prompts).
 * - a texts table for fine-tuning: per row the target sentence (corr_text for disagreement) with
 *   `target_positions` = the positions before its verbs.
 * - positions `file`: the tokenizer is GPT-2's, so the file's positions and ids are used as they
 *   are and checked against the tokenization (a mismatch is a bad row). The reference code located
 *   verbs with `list.index`, so a verb that occurs twice got the first occurrence's position twice
 *   (`[7, 7]` for `we've ... we've`): such a repeat is moved to the next occurrence of its token
 *   after the verbs before it, which is where the verb is. Positions `search`: another
 *   tokenizer; verbs are found in the text as words, in order, and tokenized in context. `auto`
 *   (default) uses `file` when the tokenizer reproduces the file's verb ids on most rows.
 * - a bad row does not stop the import: it is recorded with its line and reason (a `ct.rejects`
 *   table) and the other rows are imported. In file mode, a row whose positions do not hold its
 *   verbs is salvaged by searching the verbs in the text, unless a verb is glued to the character
 *   before it (a quote mark: `"is`), which the file's ids (the verb with its space) cannot describe.
 */
import { ConfigError } from '@circuit-tuning/contracts';
import type { Tokenizer } from '@circuit-tuning/model';
import { type PromptRow, type PromptsColumns, promptColumns, type TextRow, type TextsColumns, textColumns } from '../datasets/rows';
import type { Split } from '../world/held-out';
import { type JsonlRow, readJsonlRecords, RowReader } from './jsonl';
import { noUsableRows, RejectLog, type RejectReason, RowProblem } from './rejects';
import { type SplitShares, splitByHash } from './splits';
import { bosOf, continuation, ENCODE_DATA, locateWords } from './tokenize';

export interface ReferenceVerb {
  readonly cleanPos: number;
  readonly corrPos: number;
  readonly cleanId: number;
  readonly corrId: number;
  readonly clean: string;
  readonly corr: string;
  /** The file gives this verb the position and id of an earlier verb (the reference code's `list.index` bug). */
  readonly repeated: boolean;
}

export interface ReferenceSubjectVerbRecord {
  /** 1-based line in the file. */
  readonly line: number;
  /** 1-based row (blank lines are not rows). */
  readonly row: number;
  /** The row's fields as read. */
  readonly raw: Readonly<Record<string, unknown>>;
  readonly cleanText: string;
  readonly corrText: string;
  readonly verbs: readonly ReferenceVerb[];
}

const FIELDS = ['clean_verb_pos', 'corr_verb_pos', 'clean_verb_ids', 'corr_verb_ids', 'clean_verbs', 'corr_verbs'] as const;

/**
 * Reads and checks the file; positions and ids are the file's (GPT-2, no BOS). A bad row is an
 * error, or with `rejects` recorded there and left out.
 */
export async function readReferenceSubjectVerbJsonl(path: string, options: { rejects?: RejectLog } = {}): Promise<ReferenceSubjectVerbRecord[]> {
  return readJsonlRecords(path, readRecord, options);
}

function readRecord(path: string, row: JsonlRow): ReferenceSubjectVerbRecord {
  const r: RowReader = new RowReader(path, row);
  const cleanText = r.string('clean_text', { nonEmpty: true });
  const corrText = r.string('corr_text', { nonEmpty: true });
  const cleanPos = r.intArray('clean_verb_pos', { min: 0 });
  const corrPos = r.intArray('corr_verb_pos', { min: 0 });
  const cleanIds = r.intArray('clean_verb_ids', { min: 0, max: 2 ** 31 - 1 });
  const corrIds = r.intArray('corr_verb_ids', { min: 0, max: 2 ** 31 - 1 });
  const clean = r.stringArray('clean_verbs');
  const corr = r.stringArray('corr_verbs');
  const lengths = [cleanPos, corrPos, cleanIds, corrIds, clean, corr].map((a) => a.length);
  if (lengths.some((n) => n !== lengths[0])) {
    r.fail(`mismatched lengths: ${FIELDS.map((f, i) => `${f} has ${lengths[i]}`).join(', ')}`, 'every verb needs a position, an id and a text in both sentences');
  }
  if (cleanPos.length === 0) r.fail('no verbs (clean_verb_pos is empty)', undefined, 'empty-field');
  const repeated = cleanPos.map((p, k) => cleanPos.slice(0, k).some((q, j) => q === p && cleanIds[j] === cleanIds[k] && corrPos[j] === corrPos[k] && corrIds[j] === corrIds[k]));
  for (const [name, positions, text] of [
    ['clean_verb_pos', cleanPos, cleanText],
    ['corr_verb_pos', corrPos, corrText],
  ] as const) {
    // A GPT-2 token is at least one byte, so no position can reach the text's byte length.
    const bytes = Buffer.byteLength(text, 'utf8');
    let last = -1;
    positions.forEach((p, k) => {
      if (p >= bytes) r.fail(`${name}[${k}] = ${p} is out of range: the sentence has at most ${bytes} tokens`);
      if (repeated[k]) return;
      if (p <= last) r.fail(`${name} must increase, but [${k}] = ${p} follows ${last}`);
      last = p;
    });
  }
  clean.forEach((v, k) => {
    if (v.trim() === '') r.fail(`clean_verbs[${k}] is empty`, undefined, 'empty-field');
    if (corr[k]!.trim() === '') r.fail(`corr_verbs[${k}] is empty`, undefined, 'empty-field');
  });
  return {
    line: row.line,
    row: row.row,
    raw: row.value,
    cleanText,
    corrText,
    verbs: cleanPos.map((p, k) => ({ cleanPos: p, corrPos: corrPos[k]!, cleanId: cleanIds[k]!, corrId: corrIds[k]!, clean: clean[k]!, corr: corr[k]!, repeated: repeated[k]! })),
  };
}

export interface SubjectVerbImportOptions {
  readonly tokenizer: Tokenizer;
  /** `disagreement` (default): answer = flipped verb. `agreement`: answer = clean verb. */
  readonly target?: 'disagreement' | 'agreement';
  /** One prompt per verb (`all`, default) or only the first verb of each row. */
  readonly verbs?: 'all' | 'first';
  readonly positions?: 'auto' | 'file' | 'search';
  /** Rows split by a hash of clean_text (all prompts of a row in one split). Default 80/10/10. */
  readonly splits?: SplitShares;
  /** The `task` column; default `sv-disagreement` or `sv-agreement` by target. */
  readonly task?: string;
}

export interface SubjectVerbImport {
  readonly prompts: PromptsColumns;
  readonly texts: TextsColumns;
  /** How verbs were located: the file's GPT-2 positions, or by searching the text. */
  readonly positions: 'file' | 'search';
  /** Rows in the file (blank lines aside), imported or not. */
  readonly rows: number;
  /** Rows imported (each gives one prompt per verb). */
  readonly accepted: number;
  /** Rows whose file positions did not fit the tokenization but whose verbs were found in the text. */
  readonly salvaged: number;
  readonly rejects: RejectLog;
}

export async function importReferenceSubjectVerbJsonl(path: string, options: SubjectVerbImportOptions): Promise<SubjectVerbImport> {
  const { tokenizer } = options;
  if (tokenizer === undefined) {
    throw new ConfigError("importing subject-verb prompts needs a tokenizer: the file holds the verbs' token ids only, not the sentences'", {
      hint: "pass the model's tokenizer (loadTokenizer(modelDir)); readReferenceSubjectVerbJsonl gives the records without one",
    });
  }
  const target = options.target ?? 'disagreement';
  const task = options.task ?? (target === 'disagreement' ? 'sv-disagreement' : 'sv-agreement');
  const shares = options.splits ?? { train: 0.8, dev: 0.1, test: 0.1 };
  const bos = bosOf(tokenizer);
  const rejects = new RejectLog();
  const records = await readReferenceSubjectVerbJsonl(path, { rejects });
  const rows = records.length + rejects.size;
  const encoded = records.map((rec) => ({ clean: tokenizer.encode(rec.cleanText, ENCODE_DATA), corr: tokenizer.encode(rec.corrText, ENCODE_DATA) }));
  const positions = options.positions === 'file' || options.positions === 'search' ? options.positions : chooseMode(records, encoded);

  const prompts: PromptRow[] = [];
  const texts: TextRow[] = [];
  let accepted = 0;
  let salvaged = 0;
  records.forEach((rec, r) => {
    const convert = (mode: 'file' | 'search') => convertRecord(path, rec, encoded[r]!, { tokenizer, mode, target, task, bos, verbs: options.verbs ?? 'all', split: splitByHash(rec.cleanText, shares) });
    let converted: { prompts: PromptRow[]; text: TextRow };
    try {
      converted = convert(positions);
    } catch (error) {
      // The file's positions and ids are GPT-2's as the reference code computed them; where they do
      // not fit the tokenization, the verbs may still be found in the text as words.
      const salvage = positions === 'file' && error instanceof RowProblem && error.reason === 'verb-mismatch' ? trySearch(rec, convert) : undefined;
      if (salvage === undefined) {
        rejects.addProblem(error, rec.row, rec.raw);
        return;
      }
      converted = salvage;
      salvaged += 1;
    }
    prompts.push(...converted.prompts);
    texts.push(converted.text);
    accepted += 1;
  });
  if (accepted === 0) throw noUsableRows(path, rejects, rows);
  rejects.sort();
  return { prompts: promptColumns(prompts), texts: textColumns(texts), positions, rows, accepted, salvaged, rejects };
}

/**
 * The row located by searching its verbs in the text, unless a verb is glued to the character
 * before it (`"is`): the file's id is the verb with its space, which that sentence never has, so
 * such a row is a correct rejection, not a salvage.
 */
function trySearch<T>(rec: ReferenceSubjectVerbRecord, convert: (mode: 'search') => T): T | undefined {
  const sides = [
    [rec.cleanText, rec.verbs.map((v) => v.clean)],
    [rec.corrText, rec.verbs.map((v) => v.corr)],
  ] as const;
  for (const [text, words] of sides) {
    const offsets = locateWords(text, words);
    if (!Array.isArray(offsets)) return undefined;
    if (offsets.some((at) => at > 0 && !/\s/.test(text[at - 1]!) && text[at] !== "'")) return undefined;
  }
  try {
    return convert('search');
  } catch (error) {
    if (error instanceof RowProblem) return undefined;
    throw error;
  }
}

interface ConvertOptions {
  readonly tokenizer: Tokenizer;
  readonly mode: 'file' | 'search';
  readonly target: 'disagreement' | 'agreement';
  readonly task: string;
  readonly bos: number;
  readonly verbs: 'all' | 'first';
  readonly split: Split;
}

/** One record as prompts (one per verb) and a fine-tuning text; a RowProblem when a verb cannot be located. */
function convertRecord(path: string, rec: ReferenceSubjectVerbRecord, encoded: { clean: number[]; corr: number[] }, options: ConvertOptions): { prompts: PromptRow[]; text: TextRow } {
  const { tokenizer, mode, target, task, bos, split } = options;
  const fail = (reason: RejectReason, problem: string, hint?: string): never => {
    throw new RowProblem(path, rec.line, reason, problem, hint);
  };
  const { clean, corr } = encoded;
  const verbs = options.verbs === 'first' ? rec.verbs.slice(0, 1) : rec.verbs;
  const cleanSide = locate(tokenizer, mode, rec.cleanText, clean, verbs.map((v) => ({ pos: v.cleanPos, repeated: v.repeated, id: v.cleanId, word: v.clean, other: v.corr, otherId: v.corrId })), 'clean', fail);
  const targetText = target === 'disagreement' ? rec.corrText : rec.cleanText;
  const prompts = verbs.map((_, k): PromptRow => {
    const at = cleanSide[k]!;
    const [answer, foil] = target === 'disagreement' ? [at.otherId, at.id] : [at.id, at.otherId];
    return {
      split,
      task,
      cleanText: at.prefixText,
      cleanIds: [bos, ...at.prefixIds],
      corruptText: null,
      corruptIds: null,
      pos: at.prefixIds.length,
      answer,
      foil,
      targetText,
      condition: '',
      group: '',
    };
  });
  // The fine-tuning text: the target sentence, with every verb of the row as a target.
  const side = target === 'disagreement' ? 'corr' : 'clean';
  const sideIds = target === 'disagreement' ? corr : clean;
  const sideVerbs = rec.verbs.map((v) =>
    side === 'corr'
      ? { pos: v.corrPos, repeated: v.repeated, id: v.corrId, word: v.corr, other: v.clean, otherId: v.cleanId }
      : { pos: v.cleanPos, repeated: v.repeated, id: v.cleanId, word: v.clean, other: v.corr, otherId: v.corrId },
  );
  const located = locate(tokenizer, mode, targetText, sideIds, sideVerbs, side, fail);
  return { prompts, text: { split, task, text: targetText, ids: [bos, ...sideIds], targetPositions: located.map((l) => l.prefixIds.length) } };
}

interface VerbRef {
  readonly pos: number;
  readonly repeated: boolean;
  readonly id: number;
  readonly word: string;
  readonly other: string;
  readonly otherId: number;
}

interface LocatedVerb {
  readonly prefixText: string;
  readonly prefixIds: number[];
  readonly id: number;
  readonly otherId: number;
}

/** File mode when the tokenizer gives the file's verb ids at the file's positions on most rows. */
function chooseMode(records: readonly ReferenceSubjectVerbRecord[], encoded: readonly { clean: number[] }[]): 'file' | 'search' {
  let matching = 0;
  records.forEach((rec, r) => {
    const ids = encoded[r]!.clean;
    if (rec.verbs.every((v) => v.repeated || ids[v.cleanPos] === v.cleanId)) matching += 1;
  });
  return matching * 2 >= records.length ? 'file' : 'search';
}

function locate(
  tokenizer: Tokenizer,
  mode: 'file' | 'search',
  text: string,
  ids: readonly number[],
  verbs: readonly VerbRef[],
  side: 'clean' | 'corr',
  fail: (reason: RejectReason, problem: string, hint?: string) => never,
): LocatedVerb[] {
  if (mode === 'file') {
    let last = -1;
    return verbs.map((v, k) => {
      let pos = v.pos;
      if (v.repeated) {
        pos = ids.indexOf(v.id, last + 1);
        if (pos < 0) fail('verb-mismatch', `${side}_verbs[${k}] repeats the position of an earlier verb, and token ${v.id} (${JSON.stringify(v.word)}) does not occur again after position ${last}`);
      }
      last = pos;
      if (pos >= ids.length) fail('verb-mismatch', `${side}_verb_pos[${k}] = ${pos} is out of range: ${side}_text has ${ids.length} tokens`);
      if (ids[pos] !== v.id) {
        fail(
          'verb-mismatch',
          `${side}_verb_pos[${k}] = ${pos} holds token ${ids[pos]} (${JSON.stringify(tokenizer.decode([ids[pos]!]))}) but ${side}_verb_ids[${k}] is ${v.id} (${JSON.stringify(v.id < tokenizer.vocabSize ? tokenizer.decode([v.id]) : v.word)})`,
          'positions count GPT-2 tokens without BOS; use positions: "search" for another tokenizer',
        );
      }
      const prefixIds = ids.slice(0, pos);
      return { prefixText: tokenizer.decode(prefixIds), prefixIds, id: v.id, otherId: v.otherId };
    });
  }
  const offsets = locateWords(text, verbs.map((v) => v.word));
  if (!Array.isArray(offsets)) fail('not-found', `${side}_verbs[${offsets.missing}] = ${JSON.stringify(verbs[offsets.missing]!.word)} is not found as a word in ${side}_text (after the verbs before it)`);
  return verbs.map((v, k) => {
    const found = continuation(tokenizer, text, offsets[k]!, [v.word.trim(), v.other.trim()]);
    if ('reason' in found) return fail(found.reason, found.problem);
    return { prefixText: found.prefixText, prefixIds: found.prefixIds, id: found.tokens[0]!, otherId: found.tokens[1]! };
  });
}
