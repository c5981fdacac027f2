import { ContractError, PromptsTable, validatePromptsTable } from '@circuit-tuning/contracts';
import type { Tokenizer, TransformerModel } from '@circuit-tuning/model';
import { readArrowTable } from '@circuit-tuning/runtime';
import { batchPrompts, type PromptExample, type PromptSet, validatePrompts } from './prompt-set';

export interface PromptFilter {
  /** Keep only rows of this split (train | dev | test); all rows when absent. */
  split?: string | undefined;
  /** Keep only rows of this task; all rows when absent. */
  task?: string | undefined;
  /** Keep at most this many rows (the first ones after filtering). */
  maxExamples?: number | undefined;
}

/** A prompt row with its texts, for the tokenizer check. */
export interface PromptRow extends PromptExample {
  cleanText: string;
  /** The row's index in the table (error messages name it). */
  tableRow: number;
}

/**
 * Reads a `ct.prompts` table. A file of another schema fails here with the file named (the
 * runtime checks the metadata and every column's type).
 */
export async function readPrompts(path: string, filter: PromptFilter = {}): Promise<PromptRow[]> {
  const table = await readArrowTable(path, PromptsTable);
  const c = table.columns;
  // What the table means, whatever the filter keeps; the model-level checks follow in readPromptSet.
  validatePromptsTable(c, { source: path });
  const rows: PromptRow[] = [];
  for (let i = 0; i < table.numRows; i++) {
    if (filter.split !== undefined && c.split[i] !== filter.split) continue;
    if (filter.task !== undefined && c.task[i] !== filter.task) continue;
    const corrupt = c.corrupt_ids[i];
    rows.push({
      id: c.id[i]!,
      clean: c.clean_ids[i]!,
      corrupt: corrupt === null || corrupt === undefined ? undefined : corrupt,
      pos: c.pos[i]!,
      answer: c.answer[i]!,
      foil: c.foil[i]!,
      cleanText: c.clean_text[i]!,
      tableRow: i,
    });
    if (filter.maxExamples !== undefined && rows.length >= filter.maxExamples) break;
  }
  if (rows.length === 0) {
    const filters = [filter.split === undefined ? '' : `split '${filter.split}'`, filter.task === undefined ? '' : `task '${filter.task}'`]
      .filter(Boolean)
      .join(' and ');
    throw new ContractError(`${path}: no prompts${filters ? ` for ${filters}` : ''}`, {
      hint: filters ? `the table has ${table.numRows} rows; check the filter` : 'the prompts table is empty',
    });
  }
  return rows;
}

/**
 * Re-encodes the first rows' clean text with the model's tokenizer and compares with the stored
 * ids (a leading BOS in the ids is allowed): prompts tokenized for another model would otherwise
 * run silently on the wrong tokens.
 */
export function checkTokenization(rows: readonly PromptRow[], tokenizer: Tokenizer, options: { rows?: number; bos?: number | undefined } = {}): void {
  const limit = Math.min(rows.length, options.rows ?? 8);
  for (let i = 0; i < limit; i++) {
    const row = rows[i]!;
    if (row.cleanText === '') continue;
    const encoded = tokenizer.encode(row.cleanText);
    const stored = row.clean;
    const bos = options.bos ?? tokenizer.bosTokenId;
    const withoutBos = bos !== undefined && stored[0] === bos && encoded[0] !== bos ? stored.slice(1) : stored;
    if (!sameIds(encoded, withoutBos)) {
      throw new ContractError(
        `model/tokenizer mismatch: prompt id ${row.id} ('${shorten(row.cleanText)}') encodes to [${shortIds(encoded)}] with the model's tokenizer, but its clean_ids are [${shortIds(stored)}]`,
        { hint: 'the prompts were tokenized for another model; regenerate them with this model, or set checkTokenizer: false to skip this check' },
      );
    }
  }
}

const sameIds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const shortIds = (ids: readonly number[]) => (ids.length > 12 ? `${ids.slice(0, 12).join(', ')}, …` : ids.join(', '));
const shorten = (text: string) => (text.length > 60 ? `${text.slice(0, 57)}…` : text);

/** The prompt settings every scoring stage's config has (discovery's and redundancy's). */
export interface PromptSetOptions extends PromptFilter {
  /** 'corrupted' needs each row's corrupted ids; other ablations ignore them. */
  ablation: string;
  /** Re-encode a few rows with the model's tokenizer (when it has one) and compare. */
  checkTokenizer: boolean;
}

/**
 * What every stage that scores a model on a prompts table does first: read the rows, check they
 * were tokenized for this model and fit its vocabulary and positions, and batch them.
 */
export async function readPromptSet(path: string, model: TransformerModel, options: PromptSetOptions): Promise<{ rows: PromptRow[]; prompts: PromptSet }> {
  const rows = await readPrompts(path, options);
  if (options.checkTokenizer && model.tokenizer) checkTokenization(rows, model.tokenizer, { bos: model.config.bosTokenId });
  const { vocabSize, maxPositions, positions } = model.config;
  const needCorrupt = options.ablation === 'corrupted';
  validatePrompts(rows, { vocabSize, maxPositions, learnedPositions: positions === 'learned' }, { needCorrupt, source: path });
  // Padded: prompts of many lengths (the reference data) take a few passes, not one per length.
  return { rows, prompts: batchPrompts(rows, 64, { withCorrupt: needCorrupt, pad: true }) };
}
