import { ContractError } from './errors';

/**
 * What a row of a `ct.prompts` table means, checked in one place for every stage that reads one
 * (discovery, redundancy, evaluation, every circuit-training variant): `pos` indexes `clean_ids`,
 * a corrupted prompt has the clean one's length, and every id is a token of the model.
 */
export interface PromptRowIds {
  /** The row's `id` column. */
  id: number;
  /** The row's index in its table, when the rows are a filtered subset (default: the index in `rows`). */
  tableRow?: number | undefined;
  clean: ArrayLike<number>;
  /** Absent (null) when the task has no corruptions (mean/zero ablation). */
  corrupt?: ArrayLike<number> | null | undefined;
  pos: number;
  answer: number;
  foil: number;
}

/**
 * What the model-level checks need to know about the model; a model's config has these fields, so
 * `model.config` can be passed as is. Learned positions cap the length; rotary ones do not.
 */
export interface PromptLimits {
  vocabSize: number;
  maxPositions: number;
  positions: string;
}

export interface PromptRowCheck {
  /** The file (or port) the rows came from; every message starts with it. */
  source: string;
  /** The model the prompts will run on: token ids and lengths are checked against it when given. */
  limits?: PromptLimits | undefined;
  /** Corrupted ablation needs a corrupted prompt for every row. */
  needCorrupt?: boolean | undefined;
}

const TOKENIZED_ELSEWHERE = 'the prompts were probably tokenized for another model';

/**
 * Throws a ContractError naming the source, the row and the problem for the first bad row, before
 * any tensor work (a bad position would otherwise be a wasm trap or a silent read of padding, a bad
 * id a NaN, mismatched pair lengths a patch of the wrong tokens).
 */
export function validatePromptRows(rows: readonly PromptRowIds[], check: PromptRowCheck): void {
  if (rows.length === 0) {
    throw new ContractError(`${check.source}: no prompts to score`, { hint: 'check the split/task filters and that the prompts table has rows' });
  }
  rows.forEach((row, index) => {
    validatePromptRow(row, index, check);
  });
}

/** The checks of validatePromptRows for one row (`index` is its row number in the source). */
export function validatePromptRow(row: PromptRowIds, index: number, check: PromptRowCheck): void {
  const fail = (problem: string, hint?: string): never => {
    throw new ContractError(`${check.source} row ${row.tableRow ?? index}: prompt id ${row.id}: ${problem}`, hint === undefined ? undefined : { hint });
  };
  const { clean, corrupt } = row;
  const { limits } = check;
  const isToken = (id: number) => Number.isInteger(id) && id >= 0 && (limits === undefined || id < limits.vocabSize);
  const outside = (id: number) => (limits === undefined ? `token id ${id} is not a token id` : `token id ${id}, outside the model's vocabulary of ${limits.vocabSize}`);
  if (clean.length === 0) fail('clean_ids is empty');
  if (limits !== undefined && limits.positions === 'learned' && clean.length > limits.maxPositions) {
    fail(`${clean.length} tokens, longer than the model's ${limits.maxPositions} positions`);
  }
  if (!Number.isInteger(row.pos) || row.pos < 0 || row.pos >= clean.length) {
    fail(`pos ${row.pos} is outside clean_ids (length ${clean.length})`, 'pos indexes clean_ids; its logits predict the next token');
  }
  for (const [name, id] of [
    ['answer', row.answer],
    ['foil', row.foil],
  ] as const) {
    if (!isToken(id)) {
      fail(
        limits === undefined ? `${name} id ${id} is not a token id` : `${name} id ${id} is outside the model's vocabulary of ${limits.vocabSize}`,
        TOKENIZED_ELSEWHERE,
      );
    }
  }
  const badClean = Array.prototype.find.call(clean, (id: number) => !isToken(id)) as number | undefined;
  if (badClean !== undefined) fail(`clean_ids holds ${outside(badClean)}`, TOKENIZED_ELSEWHERE);
  if (corrupt === null || corrupt === undefined) {
    if (check.needCorrupt) fail('corrupt_ids is missing, but corrupted ablation needs a corrupted prompt for every row', "use ablation 'mean' or 'zero' for prompts without corruptions");
    return;
  }
  if (corrupt.length !== clean.length) {
    fail(
      `clean and corrupted prompts differ in length (${clean.length} vs ${corrupt.length} tokens)`,
      'corrupted ablation patches position by position, so each pair must have the same token length',
    );
  }
  const badCorrupt = Array.prototype.find.call(corrupt, (id: number) => !isToken(id)) as number | undefined;
  if (badCorrupt !== undefined) fail(`corrupt_ids holds ${outside(badCorrupt)}`, TOKENIZED_ELSEWHERE);
}

/** The columns of a `ct.prompts` table that validatePromptRows reads (what readArrowTable returns). */
export interface PromptIdColumns {
  id: ArrayLike<number>;
  clean_ids: ArrayLike<ArrayLike<number>>;
  corrupt_ids: ArrayLike<ArrayLike<number> | null>;
  pos: ArrayLike<number>;
  answer: ArrayLike<number>;
  foil: ArrayLike<number>;
}

/** validatePromptRows over every row of a table, whatever split or task a stage will use. */
export function validatePromptsTable(columns: PromptIdColumns, check: PromptRowCheck): void {
  for (let i = 0; i < columns.id.length; i++) {
    validatePromptRow(
      { id: columns.id[i]!, clean: columns.clean_ids[i]!, corrupt: columns.corrupt_ids[i], pos: columns.pos[i]!, answer: columns.answer[i]!, foil: columns.foil[i]! },
      i,
      check,
    );
  }
}
