/**
 * Accuracy from logit differences: a prompt counts as right when logit(answer) > logit(foil)
 * (a tie is wrong). Pure functions on numbers, so evaluation can call them on whatever scored
 * the prompts.
 */
import { ContractError } from '@circuit-tuning/contracts';

export function accuracyFromLogitDiffs(logitDiffs: ArrayLike<number>): number {
  if (logitDiffs.length === 0) throw new ContractError('accuracy: no logit differences');
  let right = 0;
  for (let i = 0; i < logitDiffs.length; i++) {
    const d = logitDiffs[i]!;
    if (Number.isNaN(d)) throw new ContractError(`accuracy: logit difference ${i} is NaN`);
    if (d > 0) right += 1;
  }
  return right / logitDiffs.length;
}

export interface GroupedAccuracy {
  readonly accuracy: number;
  readonly count: number;
  /** Accuracy and count per key (e.g. the prompts' condition), sorted by key. */
  readonly byKey: readonly { readonly key: string; readonly accuracy: number; readonly count: number }[];
}

/** Overall accuracy and accuracy per key, e.g. per condition (`simple`, `attractor`, `relative-clause`). */
export function accuracyByKey(rows: readonly { readonly key: string; readonly logitDiff: number }[]): GroupedAccuracy {
  const byKey = new Map<string, number[]>();
  for (const row of rows) {
    const list = byKey.get(row.key) ?? [];
    list.push(row.logitDiff);
    byKey.set(row.key, list);
  }
  return {
    accuracy: accuracyFromLogitDiffs(rows.map((r) => r.logitDiff)),
    count: rows.length,
    byKey: [...byKey.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, diffs]) => ({ key, accuracy: accuracyFromLogitDiffs(diffs), count: diffs.length })),
  };
}

/** Mean logit difference (the metric M of docs/method.md §2.1 for answer/foil tasks). */
export function meanLogitDiff(logitDiffs: ArrayLike<number>): number {
  if (logitDiffs.length === 0) throw new ContractError('mean logit difference: no values');
  let sum = 0;
  for (let i = 0; i < logitDiffs.length; i++) sum += logitDiffs[i]!;
  return sum / logitDiffs.length;
}
