/**
 * Statistics over training seeds: a variant's mean with its confidence interval, and a paired test
 * of two variants whose runs share seeds. In a pipeline a seed fixes the order of the training
 * batches (packages/training/src/data/batches.ts: every epoch is a permutation drawn from the
 * seed), so two variants trained with the same seed saw the same data in the same order, and their
 * difference at that seed is one observation of the variants' difference.
 */
import { studentTCdf, studentTQuantile } from './student-t';

/** The confidence level of every interval in a comparison. */
export const CONFIDENCE = 0.95;
/** The test behind every p-value in a comparison, as the outputs name it. */
export const PAIRED_TEST = 'paired t-test over seeds (two-sided)';

export interface SeedSummary {
  /** Seeds behind the summary. */
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); null for one seed. */
  sd: number | null;
  /** mean ∓ t_{(1+confidence)/2, n−1} · sd / √n; null for one seed. */
  ciLow: number | null;
  ciHigh: number | null;
}

/** Mean and Student-t confidence interval of one value per seed. */
export function seedSummary(values: readonly number[], confidence = CONFIDENCE): SeedSummary {
  const n = values.length;
  if (n === 0) throw new RangeError('a summary over seeds needs at least one value');
  // Equal values are their own mean: the sum's rounding would otherwise leave a spread of 1e-17.
  const equal = values.every((v) => v === values[0]);
  const mean = equal ? values[0]! : values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, sd: null, ciLow: null, ciHigh: null };
  const sd = equal ? 0 : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  const half = studentTQuantile((1 + confidence) / 2, n - 1) * (sd / Math.sqrt(n));
  return { n, mean, sd, ciLow: mean - half, ciHigh: mean + half };
}

export interface PairedTest {
  /** Seeds both variants ran with. */
  n: number;
  /** Mean over shared seeds of (variant − baseline). */
  meanDiff: number;
  /** The difference's confidence interval; null below two pairs. */
  ciLow: number | null;
  ciHigh: number | null;
  /** t statistic and its degrees of freedom (n − 1); null below two pairs. */
  t: number | null;
  df: number | null;
  /** Two-sided p-value of the paired t-test; null below two pairs. */
  p: number | null;
  /** The sign of each paired difference in the order given: '+', '-' or '0'. With 3 seeds even
   * a sign test cannot go below p = 0.25, so the signs are reported beside the t-test's p. */
  signs: string;
}

/**
 * The paired t-test of `variant` against `baseline`, paired by index (the caller aligns them by
 * seed): t = mean(d) / (sd(d)/√n) with d = variant − baseline, n − 1 degrees of freedom.
 * Differences that are all equal give t = ±∞ (p = 0), or p = 1 when they are all zero.
 */
export function pairedTTest(variant: readonly number[], baseline: readonly number[], confidence = CONFIDENCE): PairedTest {
  if (variant.length !== baseline.length) throw new RangeError(`a paired test needs as many values on both sides (${variant.length} and ${baseline.length})`);
  if (variant.length === 0) throw new RangeError('a paired test needs at least one pair');
  const diffs = variant.map((v, i) => v - baseline[i]!);
  const signs = diffs.map((d) => (d > 0 ? '+' : d < 0 ? '-' : Number.isNaN(d) ? '?' : '0')).join('');
  const summary = seedSummary(diffs, confidence);
  const nulls = { t: null, df: null, p: null };
  if (summary.sd === null) return { n: summary.n, meanDiff: summary.mean, ciLow: null, ciHigh: null, ...nulls, signs };
  const df = summary.n - 1;
  const se = summary.sd / Math.sqrt(summary.n);
  let t: number;
  if (se > 0) t = summary.mean / se;
  else t = summary.mean === 0 ? 0 : summary.mean > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  const p = Number.isNaN(t) ? Number.NaN : 2 * studentTCdf(-Math.abs(t), df);
  return { n: summary.n, meanDiff: summary.mean, ciLow: summary.ciLow, ciHigh: summary.ciHigh, t, df, p, signs };
}
