/**
 * Importer for the format circuit papers share their data in: one row per example with a clean
 * prompt, a corrupted prompt, the answer (the clean prompt's expected next token) and a foil (the
 * token the corrupted prompt pushes towards), in CSV, TSV or JSON Lines.
 *
 *   clean,corrupted,answer,foil
 *   the key to the cabinets,the keys to the cabinet,is,are
 *
 * Prompts are text tokenized with the model's tokenizer (BOS first, as every task here), or token
 * ids used as they are (`tokens: 'ids'`: a JSON array or space/comma-separated integers; include
 * the BOS id yourself if the model expects one). Each row is checked on its own, and a bad row is
 * recorded (a `ct.rejects` table) instead of stopping the import:
 * - clean and corrupted must have the same number of tokens (corrupted ablation patches position by
 *   position);
 * - answer and foil must be one token each, different, and known to the tokenizer. GPT-2's BPE
 *   writes a word after a space as one token WITH its space: the answer to "The capital of France
 *   is" is " Paris", and a CSV keeps the space of `, Paris` (RFC 4180: spaces belong to the field).
 * `pos` is the clean prompt's last token: its logits are scored for answer against foil.
 */
import { ArtifactError, ConfigError } from '@circuit-tuning/contracts';
import type { Tokenizer } from '@circuit-tuning/model';
import { z } from 'zod';
import { type PromptRow, type PromptsColumns, promptColumns } from '../datasets/rows';
import { SPLITS, type Split } from '../world/held-out';
import { readDelimitedFile } from './delimited';
import { readJsonlRows } from './jsonl';
import { noUsableRows, RejectLog, type RejectReason, RowProblem } from './rejects';
import { type SplitShares, splitByHash } from './splits';
import { bosOf, ENCODE_DATA } from './tokenize';

/** Which column holds what; the optional ones are read when the file has them. */
export const PairColumns = z.strictObject({
  clean: z.string().min(1).default('clean').describe("the column of the clean prompt"),
  corrupted: z.string().min(1).default('corrupted').describe('the column of the corrupted prompt'),
  answer: z.string().min(1).default('answer').describe('the column of the answer (the expected next token)'),
  foil: z.string().min(1).default('foil').describe('the column of the foil (the competing next token)'),
  /** Optional: train | dev | test per row (rows without one are split by a hash of the clean prompt). */
  split: z.string().min(1).default('split').describe('optional column: train | dev | test per row (rows without one are split by a hash of the clean prompt)'),
  /** Optional: the `task` column per row (default: the `task` option). */
  task: z.string().min(1).default('task').describe("optional column: the row's task (default: the task option)"),
  /** Optional: a condition (e.g. 'attractor') and a group (e.g. an occupation) for per-group metrics. */
  condition: z.string().min(1).default('condition').describe("optional column: a condition (e.g. 'attractor') for per-condition metrics"),
  group: z.string().min(1).default('group').describe('optional column: a group (e.g. an occupation) for per-group metrics'),
});
export type PairColumns = z.output<typeof PairColumns>;

export const PAIR_FORMATS = ['auto', 'csv', 'tsv', 'jsonl'] as const;
export type PairFormat = (typeof PAIR_FORMATS)[number];

export interface PairsImportOptions {
  readonly tokenizer: Tokenizer;
  /** `auto` (default) goes by the extension: .csv, .tsv/.tab, .jsonl/.ndjson. */
  readonly format?: PairFormat;
  readonly columns?: Partial<PairColumns>;
  /** `text` (default): prompts and answers are text. `ids`: token ids, used as they are. */
  readonly tokens?: 'text' | 'ids';
  /** The `task` of rows without a task column. Default `pairs`. */
  readonly task?: string;
  /** Shares for rows without a split column. Default 80/10/10. */
  readonly splits?: SplitShares;
}

export interface PairsImport {
  readonly prompts: PromptsColumns;
  readonly format: 'csv' | 'tsv' | 'jsonl';
  /** Data rows in the file, imported or not. */
  readonly rows: number;
  readonly accepted: number;
  readonly rejects: RejectLog;
}

/** A source row: where it is, and its fields by column name as read. */
interface SourceRow {
  readonly line: number;
  readonly row: number;
  readonly raw: Readonly<Record<string, unknown>>;
}

export async function importPairs(path: string, options: PairsImportOptions): Promise<PairsImport> {
  const { tokenizer } = options;
  const columns = PairColumns.parse(options.columns ?? {});
  const format = resolveFormat(path, options.format ?? 'auto');
  const mode = options.tokens ?? 'text';
  const shares = options.splits ?? { train: 0.8, dev: 0.1, test: 0.1 };
  const bos = mode === 'text' ? bosOf(tokenizer) : undefined;
  const rejects = new RejectLog();
  const rows = await readSourceRows(path, format, columns, rejects);
  const total = rows.length + rejects.size;
  if (total === 0) throw new ArtifactError(path, 'holds a header but no rows');
  const prompts: PromptRow[] = [];
  for (const source of rows) {
    try {
      prompts.push(convertRow(path, source, { tokenizer, columns, mode, bos, task: options.task ?? 'pairs', shares }));
    } catch (error) {
      rejects.addProblem(error, source.row, source.raw);
    }
  }
  if (prompts.length === 0) throw noUsableRows(path, rejects, total);
  rejects.sort();
  return { prompts: promptColumns(prompts), format, rows: total, accepted: prompts.length, rejects };
}

function resolveFormat(path: string, format: PairFormat): 'csv' | 'tsv' | 'jsonl' {
  if (format !== 'auto') return format;
  const lower = path.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.tsv') || lower.endsWith('.tab')) return 'tsv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  throw new ConfigError(`${path}: cannot tell the format from the file name`, { hint: "name it .csv, .tsv or .jsonl, or set format: 'csv' | 'tsv' | 'jsonl'" });
}

async function readSourceRows(path: string, format: 'csv' | 'tsv' | 'jsonl', columns: PairColumns, rejects: RejectLog): Promise<SourceRow[]> {
  if (format === 'jsonl') return (await readJsonlRows(path, { rejects })).map((r) => ({ line: r.line, row: r.row, raw: r.value }));
  const table = await readDelimitedFile(path, format === 'csv' ? ',' : '\t');
  const duplicate = table.header.find((h, i) => table.header.indexOf(h) !== i);
  if (duplicate !== undefined) throw new ArtifactError(path, `line 1: the header names column '${duplicate}' twice`);
  const missing = (['clean', 'corrupted', 'answer', 'foil'] as const).filter((key) => !table.header.includes(columns[key]));
  if (missing.length > 0) {
    throw new ArtifactError(path, `line 1: no column ${missing.map((key) => `'${columns[key]}'`).join(', ')} in the header (${table.header.join(', ')})`, {
      hint: `name the columns in the first line, or map yours with columns: { ${missing.map((key) => `${key}: <your column>`).join(', ')} }`,
    });
  }
  return table.records.map((r) => ({ line: r.line, row: r.row, raw: Object.fromEntries(table.header.map((h, i) => [h, r.fields[i]!])) }));
}

interface ConvertOptions {
  readonly tokenizer: Tokenizer;
  readonly columns: PairColumns;
  readonly mode: 'text' | 'ids';
  readonly bos: number | undefined;
  readonly task: string;
  readonly shares: SplitShares;
}

function convertRow(path: string, source: SourceRow, options: ConvertOptions): PromptRow {
  const { tokenizer, columns } = options;
  const fail = (reason: RejectReason, problem: string, hint?: string): never => {
    throw new RowProblem(path, source.line, reason, problem, hint);
  };
  const optional = (key: 'split' | 'task' | 'condition' | 'group'): string => {
    const value = source.raw[columns[key]];
    if (value === undefined || value === null) return '';
    if (typeof value !== 'string') return fail('bad-field', `field '${columns[key]}' must be a string, got ${JSON.stringify(value)}`);
    return value.trim();
  };
  const pair = options.mode === 'text' ? textPair(tokenizer, source.raw, columns, options.bos!, fail) : idPair(tokenizer, source.raw, columns, fail);
  if (pair.clean.length !== pair.corrupt.length) {
    // Counted as the user wrote them: text prompts without the BOS the importer adds.
    const added = options.mode === 'text' ? 1 : 0;
    fail(
      'length-mismatch',
      `clean and corrupted prompts differ in length (${pair.clean.length - added} vs ${pair.corrupt.length - added} tokens)`,
      'corrupted ablation patches position by position: reword the corrupted prompt so that it has as many tokens as the clean one',
    );
  }
  if (pair.answer === pair.foil) fail('same-answer-foil', `answer and foil are the same token (${pair.answer}, ${JSON.stringify(tokenizer.decode([pair.answer]))})`);
  const splitField = optional('split');
  if (splitField !== '' && !(SPLITS as readonly string[]).includes(splitField)) fail('bad-field', `field '${columns.split}' is ${JSON.stringify(splitField)}, not one of ${SPLITS.join(', ')}`);
  const split = splitField === '' ? splitByHash(pair.cleanText, options.shares) : (splitField as Split);
  return {
    split,
    task: optional('task') || options.task,
    cleanText: pair.cleanText,
    cleanIds: pair.clean,
    corruptText: pair.corruptText,
    corruptIds: pair.corrupt,
    pos: pair.clean.length - 1,
    answer: pair.answer,
    foil: pair.foil,
    targetText: null,
    condition: optional('condition'),
    group: optional('group'),
  };
}

interface Pair {
  readonly cleanText: string;
  readonly corruptText: string;
  readonly clean: number[];
  readonly corrupt: number[];
  readonly answer: number;
  readonly foil: number;
}

type Fail = (reason: RejectReason, problem: string, hint?: string) => never;

function field(raw: Readonly<Record<string, unknown>>, name: string, fail: Fail): unknown {
  const value = raw[name];
  if (value === undefined || value === null) return fail('missing-field', `missing field '${name}'`);
  return value;
}

function textField(raw: Readonly<Record<string, unknown>>, name: string, fail: Fail): string {
  const value = field(raw, name, fail);
  if (typeof value !== 'string') return fail('bad-field', `field '${name}' must be text, got ${JSON.stringify(value)}`, "token ids need tokens: 'ids'");
  if (value.trim() === '') return fail('empty-field', `field '${name}' is empty`);
  return value;
}

function textPair(tokenizer: Tokenizer, raw: Readonly<Record<string, unknown>>, columns: PairColumns, bos: number, fail: Fail): Pair {
  const cleanText = textField(raw, columns.clean, fail);
  const corruptText = textField(raw, columns.corrupted, fail);
  const encodePrompt = (name: string, text: string): number[] => {
    const ids = tokenizer.encode(text, ENCODE_DATA);
    if (tokenizer.unkTokenId !== undefined && ids.includes(tokenizer.unkTokenId)) {
      const unknown = text.split(/\s+/).filter((w) => w !== '' && tokenizer.encode(w, ENCODE_DATA).includes(tokenizer.unkTokenId!));
      fail('unknown-token', `field '${name}' holds ${unknown.length > 0 ? unknown.map((w) => `'${w}'`).join(', ') : 'text'} that the tokenizer does not know (it encodes to the unknown token)`);
    }
    return [bos, ...ids];
  };
  const clean = encodePrompt(columns.clean, cleanText);
  const corrupt = encodePrompt(columns.corrupted, corruptText);
  const single = (name: string): number => {
    const text = field(raw, name, fail);
    if (typeof text !== 'string') return fail('bad-field', `field '${name}' must be text, got ${JSON.stringify(text)}`, "token ids need tokens: 'ids'");
    if (text.trim() === '') return fail('empty-field', `field '${name}' is empty`);
    const ids = tokenizer.encode(text, ENCODE_DATA);
    if (ids.length !== 1) {
      const spaced = ` ${text.trimStart()}`;
      const withSpace = !text.startsWith(' ') && tokenizer.encode(spaced, ENCODE_DATA).length === 1;
      fail(
        'multi-token-answer',
        `${name} ${JSON.stringify(text)} is ${ids.length} tokens (${ids.map((id) => JSON.stringify(tokenizer.decode([id]))).join(' ')}), but the ${name} must be one token`,
        withSpace
          ? `with a leading space, ${JSON.stringify(spaced)} is one token: BPE tokenizers such as GPT-2's write a word after a space as one token with its space`
          : 'choose a word that is a single token for this tokenizer (with a leading space for GPT-2-style BPE)',
      );
    }
    if (ids[0] === tokenizer.unkTokenId) fail('unknown-token', `${name} ${JSON.stringify(text)} is not in the tokenizer's vocabulary (it encodes to the unknown token)`);
    return ids[0]!;
  };
  return { cleanText, corruptText, clean, corrupt, answer: single(columns.answer), foil: single(columns.foil) };
}

/** Token ids: JSON arrays/integers in JSON Lines; in CSV/TSV `[1, 2]`, `1 2` or `1,2`, and an integer. */
function idPair(tokenizer: Tokenizer, raw: Readonly<Record<string, unknown>>, columns: PairColumns, fail: Fail): Pair {
  const check = (name: string, id: unknown, where = name): number => {
    if (typeof id !== 'number' || !Number.isInteger(id)) return fail('bad-token-id', `${where} must be an integer token id, got ${JSON.stringify(id)}`);
    if (id < 0 || id >= tokenizer.vocabSize) return fail('bad-token-id', `${where} = ${id} is outside the tokenizer's vocabulary of ${tokenizer.vocabSize}`, 'the ids were probably made with another tokenizer');
    return id;
  };
  const ids = (name: string): number[] => {
    let value = field(raw, name, fail);
    if (typeof value === 'string') {
      const text = value.trim().replace(/^\[(.*)\]$/s, '$1');
      if (text.trim() === '') return fail('empty-field', `field '${name}' is empty`);
      value = text.split(/[\s,]+/).filter((t) => t !== '').map((t) => (/^-?\d+$/.test(t) ? Number(t) : t));
    }
    if (!Array.isArray(value)) return fail('bad-field', `field '${name}' must be a list of token ids, got ${JSON.stringify(value)}`);
    if (value.length === 0) return fail('empty-field', `field '${name}' is empty`);
    return value.map((id, i) => check(name, id, `${name}[${i}]`));
  };
  const one = (name: string): number => {
    const value = field(raw, name, fail);
    const id = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
    return check(name, id);
  };
  const clean = ids(columns.clean);
  const corrupt = ids(columns.corrupted);
  return { cleanText: tokenizer.decode(clean), corruptText: tokenizer.decode(corrupt), clean, corrupt, answer: one(columns.answer), foil: one(columns.foil) };
}
