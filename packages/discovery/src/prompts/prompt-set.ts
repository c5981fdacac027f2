import { ContractError, validatePromptRows } from '@circuit-tuning/contracts';

/** One clean/corrupted prompt pair (a row of a `ct.prompts` table). */
export interface PromptExample {
  id: number;
  clean: readonly number[];
  /** Same length as `clean`; absent when the prompts come without corruptions (mean/zero ablation). */
  corrupt: readonly number[] | undefined;
  /** Index into `clean` whose next-token logits are scored. */
  pos: number;
  answer: number;
  foil: number;
}

/**
 * Prompts run together: ids are [size, seq] row-major, the layout of the model's `tokens` axis
 * (row b·seq + t). A row shorter than `seq` is padded on the right (`lengths` says where its real
 * tokens end): the models are causal, so tokens after a row's end change none of its real
 * positions, and the metric reads only real positions. What sums over positions or rows (scores
 * with `positions: all`, mean ablation) counts real positions only.
 */
export interface PromptBatch {
  /** Example ids, in row order. */
  exampleIds: readonly number[];
  size: number;
  seq: number;
  /** Real tokens of each row (≤ seq); the rest of the row is padding. */
  lengths: Int32Array; // [size]
  clean: Int32Array; // [size · seq]
  corrupt: Int32Array | undefined; // [size · seq]
  pos: Int32Array; // [size]
  answer: Int32Array; // [size]
  foil: Int32Array; // [size]
}

export interface PromptSet {
  examples: number;
  batches: PromptBatch[];
}

/** What the checks need to know about the model. */
export interface PromptLimits {
  vocabSize: number;
  maxPositions: number;
  /** Learned positions cap the sequence length; rotary ones do not. */
  learnedPositions: boolean;
}

/**
 * Checks prompts against the model before any tensor work, so bad input fails with a sentence
 * that names the row, not with a NaN or a wasm trap later: contracts' validatePromptRows, the one
 * validator every reader of a prompts table calls.
 */
export function validatePrompts(examples: readonly PromptExample[], limits: PromptLimits, options: { needCorrupt: boolean; source?: string }): void {
  const { vocabSize, maxPositions, learnedPositions } = limits;
  validatePromptRows(examples, {
    source: options.source ?? 'prompts',
    limits: { vocabSize, maxPositions, positions: learnedPositions ? 'learned' : 'rotary' },
    needCorrupt: options.needCorrupt,
  });
}

/**
 * Cuts prompts into batches of at most `batchSize`. Without `pad`, a batch holds prompts of one
 * length (every row real); with `pad`, prompts sorted by length fill each batch while padding
 * them to the longest adds at most a quarter more tokens (the padding repeats a row's last token:
 * any valid id would do, see PromptBatch), so prompts of many lengths (the reference data: 19
 * lengths in 32 prompts) take a few passes instead of one per length. Deterministic: lengths ascending, rows in input order within a
 * length.
 */
export function batchPrompts(examples: readonly PromptExample[], batchSize: number, options: { withCorrupt: boolean; pad?: boolean }): PromptSet {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ContractError(`batch size must be a positive integer, got ${batchSize}`);
  if (options.pad) {
    const sorted = examples.map((ex, i) => ({ ex, i })).sort((a, b) => a.ex.clean.length - b.ex.clean.length || a.i - b.i).map((e) => e.ex);
    const batches: PromptBatch[] = [];
    let rows: PromptExample[] = [];
    let tokens = 0;
    for (const ex of sorted) {
      const n = ex.clean.length;
      // Sorted by length, a row joins the batch while the padding stays within MAX_PADDING of the
      // real tokens (compute grows with padded tokens: padding 2-token prompts to 39 would cost
      // more than the passes it saves).
      if (rows.length > 0 && (rows.length >= batchSize || (rows.length + 1) * n > (1 + MAX_PADDING) * (tokens + n))) {
        batches.push(paddedBatch(rows, options.withCorrupt));
        rows = [];
        tokens = 0;
      }
      rows.push(ex);
      tokens += n;
    }
    if (rows.length > 0) batches.push(paddedBatch(rows, options.withCorrupt));
    return { examples: examples.length, batches };
  }
  const byLength = new Map<number, PromptExample[]>();
  for (const ex of examples) {
    const group = byLength.get(ex.clean.length) ?? [];
    group.push(ex);
    byLength.set(ex.clean.length, group);
  }
  const batches: PromptBatch[] = [];
  for (const seq of [...byLength.keys()].sort((a, b) => a - b)) {
    const group = byLength.get(seq)!;
    for (let start = 0; start < group.length; start += batchSize) {
      const rows = group.slice(start, start + batchSize);
      const size = rows.length;
      const clean = new Int32Array(size * seq);
      const corrupt = options.withCorrupt ? new Int32Array(size * seq) : undefined;
      rows.forEach((ex, b) => {
        clean.set(ex.clean, b * seq);
        if (corrupt) {
          if (!ex.corrupt) throw new ContractError(`prompt id ${ex.id}: corrupt_ids is missing`);
          corrupt.set(ex.corrupt, b * seq);
        }
      });
      batches.push({
        exampleIds: rows.map((ex) => ex.id),
        size,
        seq,
        lengths: new Int32Array(size).fill(seq),
        clean,
        corrupt,
        pos: Int32Array.from(rows, (ex) => ex.pos),
        answer: Int32Array.from(rows, (ex) => ex.answer),
        foil: Int32Array.from(rows, (ex) => ex.foil),
      });
    }
  }
  return { examples: examples.length, batches };
}

/** Padded tokens a padded batch may add, as a share of its real tokens. */
const MAX_PADDING = 0.25;

/** One batch of rows padded on the right to the longest (clean and corrupt alike). */
function paddedBatch(rows: readonly PromptExample[], withCorrupt: boolean): PromptBatch {
  const size = rows.length;
  const seq = Math.max(...rows.map((ex) => ex.clean.length));
  const clean = new Int32Array(size * seq);
  const corrupt = withCorrupt ? new Int32Array(size * seq) : undefined;
  const fill = (into: Int32Array, ids: readonly number[], b: number) => {
    into.set(ids, b * seq);
    into.fill(ids[ids.length - 1]!, b * seq + ids.length, (b + 1) * seq);
  };
  rows.forEach((ex, b) => {
    fill(clean, ex.clean, b);
    if (corrupt) {
      if (!ex.corrupt) throw new ContractError(`prompt id ${ex.id}: corrupt_ids is missing`);
      fill(corrupt, ex.corrupt, b);
    }
  });
  return {
    exampleIds: rows.map((ex) => ex.id),
    size,
    seq,
    lengths: Int32Array.from(rows, (ex) => ex.clean.length),
    clean,
    corrupt,
    pos: Int32Array.from(rows, (ex) => ex.pos),
    answer: Int32Array.from(rows, (ex) => ex.answer),
    foil: Int32Array.from(rows, (ex) => ex.foil),
  };
}

/** Whether any row of a batch is padded. */
export const isPadded = (batch: PromptBatch): boolean => batch.lengths.some((n) => n < batch.seq);

/** Splits a batch into row ranges of at most `rows` (the memory-bounded micro-batches). */
export function splitBatch(batch: PromptBatch, rows: number): PromptBatch[] {
  if (batch.size <= rows) return [batch];
  const parts: PromptBatch[] = [];
  for (let start = 0; start < batch.size; start += rows) {
    const end = Math.min(batch.size, start + rows);
    const seq = batch.seq;
    parts.push({
      exampleIds: batch.exampleIds.slice(start, end),
      size: end - start,
      seq,
      lengths: batch.lengths.slice(start, end),
      clean: batch.clean.slice(start * seq, end * seq),
      corrupt: batch.corrupt?.slice(start * seq, end * seq),
      pos: batch.pos.slice(start, end),
      answer: batch.answer.slice(start, end),
      foil: batch.foil.slice(start, end),
    });
  }
  return parts;
}
