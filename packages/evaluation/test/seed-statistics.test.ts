import { describe, expect, it } from 'vitest';
import { logGamma, pairedTTest, regularizedIncompleteBeta, seedSummary, studentTCdf, studentTQuantile } from '../src/index';

// Two-sided 95 % (p = 0.975), one-sided 95 % (p = 0.95) and 99 % (p = 0.995) critical values of
// Student's t, from the standard table (e.g. NIST/SEMATECH e-Handbook, §1.3.6.7.2), 7 significant digits.
const TABLE: [p: number, df: number, t: number][] = [
  [0.975, 1, 12.7062047],
  [0.975, 2, 4.3026527],
  [0.975, 3, 3.1824463],
  [0.975, 4, 2.7764451],
  [0.975, 5, 2.5705818],
  [0.975, 9, 2.2621572],
  [0.975, 10, 2.2281389],
  [0.975, 30, 2.0422725],
  [0.95, 1, 6.3137515],
  [0.95, 2, 2.9199856],
  [0.95, 3, 2.3533634],
  [0.995, 2, 9.9248432],
  [0.995, 3, 5.8409093],
];

describe("Student's t", () => {
  it('has the quantiles of the table to 1e-4, small df included', () => {
    for (const [p, df, t] of TABLE) {
      expect(Math.abs(studentTQuantile(p, df) - t), `t(${p}, ${df})`).toBeLessThan(1e-4);
      expect(Math.abs(studentTQuantile(1 - p, df) + t), `t(${1 - p}, ${df})`).toBeLessThan(1e-4);
      expect(studentTCdf(t, df)).toBeCloseTo(p, 7);
    }
    expect(studentTQuantile(0.5, 3)).toBe(0);
  });

  it('has the closed-form CDFs of 1 and 2 degrees of freedom', () => {
    for (const t of [-7, -1.5, -0.2, 0, 0.3, 1, 2, 10]) {
      // df = 1 is the Cauchy distribution; df = 2 has F(t) = 1/2 + t / (2√(2 + t²)).
      expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 12);
      expect(studentTCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 12);
    }
    expect(studentTCdf(Number.POSITIVE_INFINITY, 2)).toBe(1);
    expect(studentTCdf(Number.NEGATIVE_INFINITY, 2)).toBe(0);
  });

  it('rests on ln Γ and the regularized incomplete beta', () => {
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(logGamma(10.5)).toBeCloseTo(Math.log(1133278.388948785), 10);
    for (const x of [0, 0.1, 0.37, 0.5, 0.9, 1]) {
      expect(regularizedIncompleteBeta(x, 1, 1)).toBeCloseTo(x, 12);
      expect(regularizedIncompleteBeta(x, 3, 1)).toBeCloseTo(x ** 3, 12);
      // I_x(2, 2) = 3x² − 2x³.
      expect(regularizedIncompleteBeta(x, 2, 2)).toBeCloseTo(3 * x * x - 2 * x ** 3, 12);
    }
    expect(() => regularizedIncompleteBeta(1.5, 1, 1)).toThrow(/0 ≤ x ≤ 1/);
    expect(() => studentTQuantile(1, 3)).toThrow(/0 < p < 1/);
    expect(() => studentTCdf(1, 0)).toThrow(/degrees of freedom/);
  });
});

describe('statistics over seeds', () => {
  it('gives the mean and its 95 % Student-t interval', () => {
    // mean 2, sd 1, half-width t(0.975, 2) · 1/√3 = 4.3026527 / 1.7320508 = 2.4841377.
    const s = seedSummary([3, 1, 2]);
    expect(s.n).toBe(3);
    expect(s.mean).toBeCloseTo(2, 12);
    expect(s.sd).toBeCloseTo(1, 12);
    expect(s.ciLow!).toBeCloseTo(2 - 2.4841377, 6);
    expect(s.ciHigh!).toBeCloseTo(2 + 2.4841377, 6);
    // Equal values have no spread at all (summing three copies of 73728/854400 rounds: sd 1.7e-17).
    const share = 73728 / 854400;
    expect(seedSummary([share, share, share])).toEqual({ n: 3, mean: share, sd: 0, ciLow: share, ciHigh: share });
    expect(seedSummary([0.7])).toEqual({ n: 1, mean: 0.7, sd: null, ciLow: null, ciHigh: null });
  });

  it('tests paired differences with a t-test and lists their signs', () => {
    // d = (2, 3, 1): mean 2, sd 1, t = 2√3 = 3.4641016 on 2 df; p = 2(1/2 − √(3/14)) = 0.0741799.
    const test = pairedTTest([3, 5, 4], [1, 2, 3]);
    expect(test.n).toBe(3);
    expect(test.meanDiff).toBeCloseTo(2, 12);
    expect(test.t!).toBeCloseTo(2 * Math.sqrt(3), 10);
    expect(test.df).toBe(2);
    expect(test.p!).toBeCloseTo(1 - 2 * Math.sqrt(3 / 14), 9);
    expect(test.ciLow!).toBeCloseTo(2 - 2.4841377, 6);
    expect(test.signs).toBe('+++');
    // Swapping the sides flips t and the signs, not p.
    const swapped = pairedTTest([1, 2, 3], [3, 5, 4]);
    expect(swapped.t!).toBeCloseTo(-test.t!, 10);
    expect(swapped.p!).toBeCloseTo(test.p!, 12);
    expect(swapped.signs).toBe('---');
    expect(pairedTTest([1, 2, 3], [1, 3, 2]).signs).toBe('0-+');
  });

  it('handles equal differences, one pair and mismatched sides', () => {
    expect(pairedTTest([2, 3, 4], [1, 2, 3])).toMatchObject({ t: Number.POSITIVE_INFINITY, p: 0, signs: '+++' });
    expect(pairedTTest([1, 2, 3], [1, 2, 3])).toMatchObject({ t: 0, p: 1, signs: '000' });
    expect(pairedTTest([5], [3])).toEqual({ n: 1, meanDiff: 2, ciLow: null, ciHigh: null, t: null, df: null, p: null, signs: '+' });
    expect(() => pairedTTest([1, 2], [1])).toThrow(/as many values/);
  });
});
