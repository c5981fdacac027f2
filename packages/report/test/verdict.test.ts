/** The verdict's sentences and the best-value marks, from numbers given here. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvaluationComparisonTable } from '@circuit-tuning/contracts';
import { writeArrowTable } from '@circuit-tuning/runtime';
import { describe, expect, it } from 'vitest';
import { bestRows } from '../src/render';
import type { ComparisonTable, StepView } from '../src/sections';
import { type VerdictRow, verdictSentences } from '../src/verdict';

const row = (name: string, logitDiff: number, extra: Partial<VerdictRow> = {}): VerdictRow => ({
  name,
  base: false,
  target: { dataset: 'sv-disagreement', logitDiff, accuracy: logitDiff > 0 ? 0.9 : 0.1 },
  capabilities: new Map(),
  trainableFraction: 0.1,
  ...extra,
});

describe('the verdict', () => {
  it('names the best variant, the share of its gain each other reaches and at what cost, and the capability each loses', async () => {
    const rows = [
      row('base', -2, { base: true, trainableFraction: 0, capabilities: new Map([['held-out perplexity ↓', 10]]) }),
      row('full', 4, { trainableFraction: 1, capabilities: new Map([['held-out perplexity ↓', 14]]) }),
      row('lora', 1, { trainableFraction: 0.02, capabilities: new Map([['held-out perplexity ↓', 11]]) }),
      row('circuit-tuning', 2.5, { trainableFraction: 0.167, capabilities: new Map([['held-out perplexity ↓', 10.5]]) }),
    ];
    const sentences = await verdictSentences(rows, []);
    expect(sentences[0]).toBe("On the target task (sv-disagreement), full has the highest logit diff: 4 (accuracy 90 %); the base model's is -2.");
    // (2.5 − (−2)) / (4 − (−2)) = 75 %; (1 + 2) / 6 = 50 %.
    expect(sentences).toContain('Lora reaches 50 % of full\'s gain over the base model with 2.0 % of the parameters trainable (full: 100.0 %).');
    expect(sentences).toContain("Circuit-tuning reaches 75 % of full's gain over the base model with 16.7 % of the parameters trainable (full: 100.0 %).");
    expect(sentences).toContain('Held-out perplexity: base model 10; full 14 (+4), lora 11 (+1), circuit-tuning 10.5 (+0.5): full loses the most.');
    expect(sentences.at(-1)).toMatch(/^Each variant ran with one seed, so these differences carry no interval/);
  });

  it('says so when tuning costs no capability, and when the base model is best', async () => {
    const rows = [
      row('base', 3, { base: true, capabilities: new Map([['IOI accuracy ↑', 0.5]]) }),
      row('full', 1, { capabilities: new Map([['IOI accuracy ↑', 0.6]]) }),
    ];
    const sentences = await verdictSentences(rows, []);
    expect(sentences[0]).toMatch(/base has the highest logit diff: 3/);
    expect(sentences).toContain('IOI accuracy: base model 0.5; full 0.6 (+0.1): no variant loses any.');
  });
});

describe('best-value marks', () => {
  it('mark the best row of every column with a direction, ties included, and nothing else', () => {
    const table: ComparisonTable = {
      columns: ['logit diff ↑', 'perplexity ↓', 'trainable parameters'],
      rows: new Map([
        ['a', new Map<string, string | number | null>([['logit diff ↑', 2], ['perplexity ↓', 9], ['trainable parameters', 5]])],
        ['b', new Map<string, string | number | null>([['logit diff ↑', 2], ['perplexity ↓', 12], ['trainable parameters', 1]])],
        ['c', new Map<string, string | number | null>([['logit diff ↑', null], ['perplexity ↓', Number.NaN]])],
      ]),
      timingColumns: new Set(),
      notes: [],
    };
    const best = bestRows(table);
    expect([...best.keys()]).toEqual(['logit diff ↑', 'perplexity ↓']);
    expect([...best.get('logit diff ↑')!]).toEqual(['a', 'b']);
    expect([...best.get('perplexity ↓')!]).toEqual(['a']);
  });
});

describe('the verdict over seeds', () => {
  it('gives the means with their 95 % intervals and the paired tests against full from evaluate:compare', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ct-verdict-'));
    try {
      const path = join(dir, 'comparison.arrow');
      const runs = ['full', 'circuit-tuning', 'base'];
      const n = runs.length + 1;
      await writeArrowTable(
        path,
        EvaluationComparisonTable,
        {
          task: [...runs.map(() => 'target'), 'ioi'],
          metric: [...runs.map(() => 'logit_diff'), 'accuracy'],
          condition: Array(n).fill(''),
          run: [...runs, 'full'],
          value: [4, 3.5, -2, 0.5],
          n: Int32Array.from(Array(n).fill(100)),
          n_seeds: Int32Array.from(Array(n).fill(3)),
          seeds: Array(n).fill('1,2,3'),
          ci_low: [3.5, 3, -2.2, null],
          ci_high: [4.5, 4, -1.8, null],
          reference: Array(n).fill('base'),
          delta: [6, 5.5, 0, null],
          test: Array(n).fill('paired t-test over seeds (two-sided)'),
          diff_vs_full: [null, -0.5, -6, null],
          p_vs_full: [null, 0.04, 0.001, null],
          signs_vs_full: [null, '---', '---', null],
          diff_vs_lora: Array(n).fill(null),
          p_vs_lora: Array(n).fill(null),
          signs_vs_lora: Array(n).fill(null),
        },
        { producer: 'evaluate:compare@2' },
      );
      const view = {
        step: { id: 'compare' },
        stageId: 'evaluate:compare',
        output: (port: string) => (port === 'comparison' ? { path } : undefined),
      } as unknown as StepView;
      const sentences = await verdictSentences([], [view]);
      expect(sentences).toEqual([
        'Over 3 seeds (compare), the target logit diff with its 95 % interval: full 4 [3.5, 4.5]; circuit-tuning 3.5 [3, 4]; base -2 [-2.2, -1.8].',
        'Paired over the seeds against full fine-tuning: circuit-tuning − full −0.5 (p = 0.04, signs ---); base − full −6 (p = 0.001, signs ---).',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
