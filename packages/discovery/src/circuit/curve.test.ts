import { describe, expect, it } from 'vitest';
import { curveAreas, edgeAreaPoints, MIB_FRACTIONS } from './curve';
import { faithfulness } from './evaluate';

describe('MIB areas', () => {
  it('is 0.999 over the nominal grid and 1 − s₀ over the kept shares for a perfect curve', () => {
    // E = 10,000 edges, nothing pruned but at the smallest point (10 requested, 4 kept).
    const points = MIB_FRACTIONS.map((fraction) => ({ fraction, edges: fraction === 0.001 ? 4 : Math.round(fraction * 10_000), faithfulness: 1 }));
    const { cpr, cmd, cprNominal, cmdNominal, average } = curveAreas(edgeAreaPoints(points, 10_000));
    expect(cprNominal).toBeCloseTo(0.999, 12);
    expect(cpr).toBeCloseTo(1 - 0.0004, 12);
    expect(cmd).toBeCloseTo(0, 12);
    expect(cmdNominal).toBeCloseTo(0, 12);
    expect(average).toBe(1);
  });

  it('integrates by the trapezoidal rule over the share of edges kept after pruning, not the fractions requested', () => {
    // A hand-computed curve on E = 1,000 edges whose pruned counts differ from the nominal ones:
    //   p = 0.1 → 100 requested, 40 kept (s = 0.04), f = 0.2
    //   p = 0.5 → 500 requested, 300 kept (s = 0.3), f = 0.6
    //   p = 1   → 1000 requested, 1000 kept (s = 1), f = 1
    // CPR = 0.26 · (0.2 + 0.6)/2 + 0.7 · (0.6 + 1)/2 = 0.104 + 0.56 = 0.664
    // CMD = 0.26 · (0.8 + 0.4)/2 + 0.7 · (0.4 + 0)/2 = 0.156 + 0.14 = 0.296
    // Over the nominal p (the old definition): CPR 0.4·0.4 + 0.5·0.8 = 0.56, CMD 0.4·0.6 + 0.5·0.2 = 0.34.
    const points = [
      { fraction: 0.1, edges: 40, faithfulness: 0.2 },
      { fraction: 0.5, edges: 300, faithfulness: 0.6 },
      { fraction: 1, edges: 1000, faithfulness: 1 },
    ];
    const areas = curveAreas(edgeAreaPoints(points, 1000));
    expect(areas.cpr).toBeCloseTo(0.664, 12);
    expect(areas.cmd).toBeCloseTo(0.296, 12);
    expect(areas.cprNominal).toBeCloseTo(0.56, 12);
    expect(areas.cmdNominal).toBeCloseTo(0.34, 12);
    expect(areas.average).toBeCloseTo(0.6, 12);
  });

  it('neither clips faithfulness nor adds points at 0 or 1', () => {
    // f above 1 and below 0 count as they are; |1 − f| for CMD. s from 0.1 to 0.5 only.
    const points = [
      { nominal: 0.2, share: 0.1, faithfulness: -0.5 },
      { nominal: 0.6, share: 0.5, faithfulness: 1.5 },
    ];
    const areas = curveAreas(points);
    expect(areas.cpr).toBeCloseTo(0.4 * 0.5, 12);
    expect(areas.cmd).toBeCloseTo(0.4 * ((1.5 + 0.5) / 2), 12);
    expect(areas.cprNominal).toBeCloseTo(0.4 * 0.5, 12);
  });

  it('defines faithfulness as (M(C) − M(∅)) / (M(full) − M(∅))', () => {
    expect(faithfulness(3, 5, 1)).toBe(0.5);
    expect(faithfulness(5, 5, 1)).toBe(1);
    expect(faithfulness(1, 5, 1)).toBe(0);
    expect(faithfulness(1, 1, 1)).toBeNaN();
  });
});
