/**
 * The knee of the tuning curve: the node-level intrinsic dimension of learning a task (docs/method.md   [the line continues "§3)." on the next line, unchanged]
 * §3). Two definitions, both reported:
 *
 * - **N₉₀ (gain share)**: the smallest top-N whose gain over the untuned model reaches a share
 *   (default 90 %) of full fine-tuning's gain: gain(N) ≥ s · (M_full − M_base). This is the analogue
 *   of Li et al.'s d₉₀ (the smallest subspace reaching 90 % of the full model's performance).
 * - **Kneedle** (Satopää et al. 2011): with x = log₁₀ N and y = the metric, both rescaled to [0, 1]
 *   over the measured points, the knee is the point of largest y_n − x_n: where the curve is
 *   furthest above the chord from its first to its last point, i.e. where more edges stop paying.
 *   The curve must rise overall (its last point above its first: the target metric is "higher is
 *   better"); a falling curve, or one with no point above the chord, has no knee.
 */
export interface KneeResult {
  /** Smallest N with gain ≥ share · full gain; null when none reaches it or full fine-tuning gains nothing. */
  nShare: number | null;
  share: number;
  /** Kneedle's knee; null for fewer than three points, a flat curve, or no point above the chord. */
  kneedle: number | null;
  /** y_n − x_n at the Kneedle knee (0 … 1: how pronounced it is). */
  kneedleStrength: number | null;
}

export interface TuningPoint {
  n: number;
  metric: number;
}

export function tuningKnee(points: readonly TuningPoint[], options: { base: number; full: number; share?: number }): KneeResult {
  const share = options.share ?? 0.9;
  const sorted = points.filter((p) => p.n > 0 && Number.isFinite(p.metric)).sort((a, b) => a.n - b.n);
  const fullGain = options.full - options.base;
  let nShare: number | null = null;
  if (fullGain > 0) {
    const hit = sorted.find((p) => p.metric - options.base >= share * fullGain);
    nShare = hit === undefined ? null : hit.n;
  }
  const knee = kneedle(sorted.map((p) => [Math.log10(p.n), p.metric]));
  return { nShare, share, kneedle: knee === undefined ? null : sorted[knee.index]!.n, kneedleStrength: knee === undefined ? null : knee.strength };
}

/** Kneedle on an increasing, concave-ish curve given as [x, y] sorted by x: index of max y_n − x_n. */
export function kneedle(points: readonly (readonly [number, number])[]): { index: number; strength: number } | undefined {
  if (points.length < 3) return undefined;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x1 === x0 || y1 === y0) return undefined;
  if (points.at(-1)![1] <= points[0]![1]) return undefined;
  let best: { index: number; strength: number } | undefined;
  points.forEach(([x, y], index) => {
    const difference = (y - y0) / (y1 - y0) - (x - x0) / (x1 - x0);
    if (difference > 1e-12 && (best === undefined || difference > best.strength)) best = { index, strength: difference };
  });
  return best;
}
