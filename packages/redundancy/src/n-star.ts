/**
 * N* (docs/method.md §3): the smallest circuit size whose faithfulness reaches a level τ. Faithfulness
 * need not grow monotonically with N, so N* is read off the measured points as "the smallest
 * measured N with f ≥ τ", and the gap below it can be narrowed by measuring sizes inside it.
 */
export interface SizePoint {
  size: number;
  faithfulness: number;
}

/** The smallest size whose faithfulness is ≥ τ, or undefined when none reaches it. */
export function nStar(points: readonly SizePoint[], tau: number): number | undefined {
  let best: number | undefined;
  for (const p of points) if (p.faithfulness >= tau && (best === undefined || p.size < best)) best = p.size;
  return best;
}

/**
 * The bracket around N*: `above` = N* itself, `below` = the largest measured size under it (all
 * measured sizes under N* fall short of τ by definition). Undefined when no point reaches τ or when
 * N* is already the smallest size measured.
 */
export function nStarBracket(points: readonly SizePoint[], tau: number): { below: number; above: number } | undefined {
  const above = nStar(points, tau);
  if (above === undefined) return undefined;
  let below: number | undefined;
  for (const p of points) if (p.size < above && (below === undefined || p.size > below)) below = p.size;
  return below === undefined ? undefined : { below, above };
}

/** Up to `count` integer sizes strictly inside (below, above), evenly spread in log N. */
export function sizesInside(bracket: { below: number; above: number }, count: number): number[] {
  const { below, above } = bracket;
  if (above - below <= 1) return [];
  if (above - below - 1 <= count) return Array.from({ length: above - below - 1 }, (_, i) => below + 1 + i);
  const sizes = new Set<number>();
  for (let i = 1; i <= count; i++) {
    const t = i / (count + 1);
    const n = Math.round(Math.exp(Math.log(below) + t * (Math.log(above) - Math.log(below))));
    if (n > below && n < above) sizes.add(n);
  }
  return [...sizes].sort((a, b) => a - b);
}

/** The redundancy ratio 1 − N* / N_total; undefined without an N*. */
export const redundancyRatio = (nStarValue: number | undefined, total: number): number | undefined =>
  nStarValue === undefined ? undefined : 1 - nStarValue / total;
