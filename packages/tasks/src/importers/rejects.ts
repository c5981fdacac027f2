/**
 * Rows an importer refuses. A bad row in a file of thousands is reported (a `ct.rejects` table, a
 * count per reason in the summary, a line in the log) and the rest of the file is imported; only
 * a file with no usable row at all is an error.
 */
import { ArtifactError, type ColumnsOf, type RejectsTable } from '@circuit-tuning/contracts';

export type RejectsColumns = ColumnsOf<typeof RejectsTable>;

/**
 * Why a row was refused (the `reason` column). Parsing: `invalid-json`, `not-an-object`,
 * `missing-field`, `bad-field`, `empty-field`, `column-count`. Tokenizing: `unknown-token`,
 * `not-single-token`, `multi-token-answer`, `length-mismatch`, `same-answer-foil`, `bad-token-id`.
 * Locating a target word: `verb-mismatch` (the file's position holds another token), `not-found`.
 */
export type RejectReason =
  | 'invalid-json'
  | 'not-an-object'
  | 'missing-field'
  | 'bad-field'
  | 'empty-field'
  | 'column-count'
  | 'unknown-token'
  | 'not-single-token'
  | 'multi-token-answer'
  | 'length-mismatch'
  | 'same-answer-foil'
  | 'bad-token-id'
  | 'verb-mismatch'
  | 'not-found';

/**
 * A problem with one row: an ArtifactError naming the file and line (so strict readers throw it as
 * before), carrying the reason an importer records when it skips the row instead.
 */
export class RowProblem extends ArtifactError {
  readonly line: number;
  readonly reason: RejectReason;
  readonly problem: string;
  constructor(file: string, line: number, reason: RejectReason, problem: string, hint?: string) {
    super(file, `line ${line}: ${problem}`, hint === undefined ? undefined : { hint });
    this.line = line;
    this.reason = reason;
    this.problem = problem;
  }
}

export interface Reject {
  readonly file: string;
  /** 1-based data row (a header line is not a row). */
  readonly row: number;
  readonly line: number;
  readonly reason: RejectReason;
  readonly message: string;
  /** The row's fields as read (or the line's text when it did not parse). */
  readonly raw: Readonly<Record<string, unknown>> | string;
}

/** The rejects of one import, in file order. */
export class RejectLog {
  private readonly items: Reject[] = [];

  get rejects(): readonly Reject[] {
    return this.items;
  }

  get size(): number {
    return this.items.length;
  }

  add(reject: Reject): void {
    this.items.push(reject);
  }

  /** File order: by file (in the order first seen), then by line. */
  sort(): void {
    const files = [...new Set(this.items.map((r) => r.file))];
    this.items.sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file) || a.line - b.line);
  }

  /** Records a RowProblem; any other error is not a row's fault and is thrown again. */
  addProblem(error: unknown, row: number, raw: Reject['raw']): void {
    if (!(error instanceof RowProblem)) throw error;
    this.add({ file: error.file, row, line: error.line, reason: error.reason, message: error.hint === undefined ? error.problem : `${error.problem} (${error.hint})`, raw });
  }

  /** Count per reason, sorted by reason (what a stage summary records). */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of [...this.items].sort((a, b) => a.reason.localeCompare(b.reason))) counts[r.reason] = (counts[r.reason] ?? 0) + 1;
    return counts;
  }

  columns(): RejectsColumns {
    const rows = this.items;
    return {
      file: rows.map((r) => r.file),
      row: Int32Array.from(rows, (r) => r.row),
      line: Int32Array.from(rows, (r) => r.line),
      reason: rows.map((r) => r.reason),
      message: rows.map((r) => r.message),
      raw: rows.map((r) => (typeof r.raw === 'string' ? r.raw : JSON.stringify(r.raw))),
    };
  }

  /** One line per reject for the stage log, at most `limit` of them, then how many more. */
  describe(limit = 20): string[] {
    const lines = this.items.slice(0, limit).map((r) => `${r.file}:${r.line}: rejected (${r.reason}): ${r.message}`);
    if (this.items.length > limit) lines.push(`... and ${this.items.length - limit} more rejected rows (see the rejects table)`);
    return lines;
  }
}

/** The error for a file none of whose rows could be imported: names the file and the first reasons. */
export function noUsableRows(file: string, log: RejectLog, rows: number): ArtifactError {
  const reasons = Object.entries(log.counts())
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ');
  const first = log.rejects[0];
  return new ArtifactError(file, `no usable row: all ${rows} rows were rejected (${reasons})${first === undefined ? '' : `; first, line ${first.line}: ${first.message}`}`);
}
