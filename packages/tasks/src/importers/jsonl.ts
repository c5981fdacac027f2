/**
 * Reading JSON Lines files row by row with typed field access. Every problem is an ArtifactError
 * naming the file and the 1-based line, so a bad row in a file of thousands can be found at once.
 */
import { ArtifactError } from '@circuit-tuning/contracts';
import { readArtifactText } from '@circuit-tuning/runtime';
import { type RejectLog, type RejectReason, RowProblem } from './rejects';

export interface JsonlRow {
  /** 1-based line number in the file. */
  readonly line: number;
  /** 1-based row number (blank lines are not rows). */
  readonly row: number;
  readonly value: Readonly<Record<string, unknown>>;
}

/**
 * The non-blank lines of a JSONL file, each parsed as a JSON object. With `rejects`, a line that is
 * not a JSON object is recorded there and skipped; without, it is an error.
 */
export async function readJsonlRows(path: string, options: { rejects?: RejectLog } = {}): Promise<JsonlRow[]> {
  const text = await readArtifactText(path);
  const rows: JsonlRow[] = [];
  const lines = text.split('\n');
  let row = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    if (raw.trim() === '') continue;
    row += 1;
    try {
      rows.push({ line: i + 1, row, value: parseObject(path, i + 1, raw) });
    } catch (error) {
      if (options.rejects === undefined) throw error;
      options.rejects.addProblem(error, row, raw);
    }
  }
  if (row === 0) throw new ArtifactError(path, 'holds no rows');
  return rows;
}

function parseObject(path: string, line: number, raw: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (cause) {
    throw new RowProblem(path, line, 'invalid-json', `not valid JSON (${(cause as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RowProblem(path, line, 'not-an-object', `expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  return value as Record<string, unknown>;
}

/** Typed access to one row's fields; every failure names the file, line and field. */
export class RowReader {
  constructor(
    readonly file: string,
    readonly row: JsonlRow,
  ) {}

  /** Throws a RowProblem for this row (an ArtifactError naming the file and line). */
  fail(problem: string, hint?: string, reason: RejectReason = 'bad-field'): never {
    throw new RowProblem(this.file, this.row.line, reason, problem, hint);
  }

  private field(name: string): unknown {
    if (!Object.hasOwn(this.row.value, name) || this.row.value[name] === undefined) this.fail(`missing field '${name}'`, undefined, 'missing-field');
    return this.row.value[name];
  }

  string(name: string, options: { nonEmpty?: boolean } = {}): string {
    const value = this.field(name);
    if (typeof value !== 'string') this.fail(`field '${name}' must be a string, got ${describe(value)}`);
    if (options.nonEmpty && value.trim() === '') this.fail(`field '${name}' is empty`, undefined, 'empty-field');
    return value;
  }

  int(name: string, options: { min?: number } = {}): number {
    const value = this.field(name);
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) this.fail(`field '${name}' must be an integer, got ${describe(value)}`);
    if (options.min !== undefined && value < options.min) this.fail(`field '${name}' must be at least ${options.min}, got ${value}`);
    return value;
  }

  intArray(name: string, options: { min?: number; max?: number } = {}): number[] {
    const value = this.field(name);
    if (!Array.isArray(value)) this.fail(`field '${name}' must be an array of integers, got ${describe(value)}`);
    return value.map((item: unknown, i) => {
      if (typeof item !== 'number' || !Number.isSafeInteger(item)) this.fail(`field '${name}'[${i}] must be an integer, got ${describe(item)}`);
      if (options.min !== undefined && item < options.min) this.fail(`field '${name}'[${i}] must be at least ${options.min}, got ${item}`);
      if (options.max !== undefined && item > options.max) this.fail(`field '${name}'[${i}] must be at most ${options.max}, got ${item}`);
      return item;
    });
  }

  stringArray(name: string): string[] {
    const value = this.field(name);
    if (!Array.isArray(value)) this.fail(`field '${name}' must be an array of strings, got ${describe(value)}`);
    return value.map((item: unknown, i) => {
      if (typeof item !== 'string') this.fail(`field '${name}'[${i}] must be a string, got ${describe(item)}`);
      return item;
    });
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/**
 * Each row of a JSONL file read by `read` (which throws on a bad row): a bad row is an error, or
 * with `rejects` recorded there and left out.
 */
export async function readJsonlRecords<T>(path: string, read: (path: string, row: JsonlRow) => T, options: { rejects?: RejectLog } = {}): Promise<T[]> {
  const records: T[] = [];
  for (const row of await readJsonlRows(path, options)) {
    try {
      records.push(read(path, row));
    } catch (error) {
      if (options.rejects === undefined) throw error;
      options.rejects.addProblem(error, row.row, row.value);
    }
  }
  return records;
}
