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
 * Prompts of one length, run together: ids are [size, seq] row-major, the layout of the model's
 * `tokens` axis (row b·seq + t).
 */
export interface PromptBatch {
  /** Example ids, in row order. */
  exampleIds: readonly number[];
  size: number;
  seq: number;
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
 * Groups prompts by token length (no padding: every row of a batch is real) and cuts each group
 * into batches of at most `batchSize`. Deterministic: lengths ascending, rows in input order.
 */
export function batchPrompts(examples: readonly PromptExample[], batchSize: number, options: { withCorrupt: boolean }): PromptSet {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ContractError(`batch size must be a positive integer, got ${batchSize}`);
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
      clean: batch.clean.slice(start * seq, end * seq),
      corrupt: batch.corrupt?.slice(start * seq, end * seq),
      pos: batch.pos.slice(start, end),
      answer: batch.answer.slice(start, end),
      foil: batch.foil.slice(start, end),
    });
  }
  return parts;
}
