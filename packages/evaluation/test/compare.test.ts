import { describe, expect, it } from 'vitest';
import { bestRuns, compareRuns, comparisonMarkdown, higherIsBetter, type LabelledMetrics, type MetricRow } from '../src/index';

const rows = (logitDiff: number, perplexity: number): MetricRow[] => [
  { task: 'target', dataset: 'sv-disagreement', metric: 'logit_diff', condition: '', value: logitDiff, n: 200 },
  { task: 'general-text', dataset: 'general-text', metric: 'perplexity', condition: '', value: perplexity, n: 5000 },
];
const run = (label: string, seed: number, logitDiff: number, perplexity: number): LabelledMetrics => ({ run: label, seed, rows: rows(logitDiff, perplexity) });
const find = (table: ReturnType<typeof compareRuns>, label: string, metric: string) => table.find((r) => r.run === label && r.metric === metric)!;

describe('compareRuns over seeds', () => {
  // circuit-tuning's seeds come in shuffled: pairing must follow the seed, not the input order.
  const runs = [
    // The base model evaluated with the first training seed: still not paired with anything.
    run('base', 1, 0.5, 10),
    run('full', 1, 1, 12),
    run('full', 2, 2, 13),
    run('full', 3, 3, 14),
    run('circuit-tuning', 3, 4, 11),
    run('circuit-tuning', 1, 3, 11),
    run('circuit-tuning', 2, 5, 11),
    run('lora', 1, 2, 12),
    run('lora', 2, 2, 12),
  ];
  const table = compareRuns(runs, 'base');

  it('summarizes each variant over its seeds', () => {
    const ct = find(table, 'circuit-tuning', 'logit_diff');
    expect(ct.seeds).toEqual([1, 2, 3]);
    expect(ct.values).toEqual([3, 5, 4]);
    expect(ct.value).toBeCloseTo(4, 12);
    // sd 1 over 3 seeds: half-width t(0.975, 2)/√3 = 2.4841377.
    expect(ct.ciHigh! - ct.value).toBeCloseTo(2.4841377, 6);
    expect(ct.delta).toBeCloseTo(3.5, 12);
    expect(ct.reference).toBe('base');
    const base = find(table, 'base', 'logit_diff');
    expect(base).toMatchObject({ value: 0.5, seeds: [1], ciLow: null, ciHigh: null, delta: 0 });
    expect(base.paired).toEqual({ full: null, lora: null });
  });

  it('pairs variants with full fine-tuning and LoRA by seed', () => {
    const ct = find(table, 'circuit-tuning', 'logit_diff');
    // Against full, by seed: (3 − 1, 5 − 2, 4 − 3) = (2, 3, 1), t = 2√3 on 2 df, p = 0.0741799.
    expect(ct.paired.full!.meanDiff).toBeCloseTo(2, 12);
    expect(ct.paired.full!.p!).toBeCloseTo(1 - 2 * Math.sqrt(3 / 14), 9);
    expect(ct.paired.full!.signs).toBe('+++');
    // LoRA ran seeds 1 and 2 only: two pairs, (3 − 2, 5 − 2).
    expect(ct.paired.lora).toMatchObject({ n: 2, meanDiff: 2, df: 1, signs: '++' });
    expect(find(table, 'full', 'logit_diff').paired.full).toBeNull();
    expect(find(table, 'full', 'perplexity').paired.lora).toMatchObject({ n: 2, signs: '0+' });
  });

  it('refuses two runs of one variant with the same seed', () => {
    expect(() => compareRuns([run('full', 1, 1, 1), run('full', 1, 2, 2)])).toThrow(/two runs are labelled 'full' with seed 1/);
  });

  it('marks the best variant per metric from the direction of the metric, the reference aside', () => {
    expect(higherIsBetter('logit_diff')).toBe(true);
    expect(higherIsBetter('perplexity')).toBe(false);
    expect(higherIsBetter('steps')).toBeUndefined();
    const best = bestRuns(table);
    expect([...best.get('target\u0000logit_diff\u0000')!]).toEqual(['circuit-tuning']);
    // The base model's perplexity of 10 is lower, but it is the reference.
    expect([...best.get('general-text\u0000perplexity\u0000')!]).toEqual(['circuit-tuning']);
  });

  it('writes mean ± half-width, the best in bold, and the paired tests by name', () => {
    const markdown = comparisonMarkdown(table, { title: 'T' });
    expect(markdown).toContain('| metric | base (1 seed) | full (3 seeds) | circuit-tuning (3 seeds) | lora (2 seeds) |');
    expect(markdown).toContain('| logit_diff ↑ | 0.5 | 2 ± 2.48 (+1.5) | **4 ± 2.48** (+3.5) | 2 ± 0 (+1.5) |');
    expect(markdown).toContain('paired t-test over seeds (two-sided)');
    expect(markdown).toContain('| logit_diff ↑ | circuit-tuning | +2 | 0.074 | +++ | +2 | 0.295 | ++ |');
    // Full against LoRA once (on LoRA's row), not mirrored on full's row.
    expect(markdown).toContain('| logit_diff ↑ | lora | +0.5 | 0.500 | +0 | – | – | – |');
    expect(markdown).not.toMatch(/\| logit_diff ↑ \| full \| /);
  });

  it('lists paired tests for overall rows of metrics with a direction only', () => {
    const extra = (label: string, seed: number, value: number): LabelledMetrics => ({
      run: label,
      seed,
      rows: [
        { task: 'target', dataset: 'd', metric: 'logit_diff', condition: 'attractor', value, n: 5 },
        { task: 'target', dataset: 'd', metric: 'steps', condition: '', value: 150, n: 150 },
      ],
    });
    const markdown = comparisonMarkdown(compareRuns([1, 2, 3].flatMap((s) => [extra('full', s, s), extra('circuit-tuning', s, 2 * s)])));
    expect(markdown).toContain('| logit_diff ↑ · attractor | 2 ± 2.48 | **4 ± 4.97** |');
    expect(markdown).not.toContain('Δ vs full');
  });

  it('leaves a single-seed comparison as it was: values, differences, no intervals', () => {
    const single = compareRuns([run('base', 7, 0.5, 10), run('full', 7, 1, 12), run('lora', 7, 2, 11)], 'base');
    expect(find(single, 'lora', 'logit_diff')).toMatchObject({ value: 2, delta: 1.5, ciLow: null, ciHigh: null });
    const markdown = comparisonMarkdown(single);
    expect(markdown).toContain('| metric | base | full | lora |');
    expect(markdown).toContain('| logit_diff ↑ | 0.5 | 1 (+0.5) | **2** (+1.5) |');
    expect(markdown).not.toContain('±');
    expect(markdown).not.toContain('p |');
  });
});
