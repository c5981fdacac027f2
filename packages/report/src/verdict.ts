/**
 * The verdict a report opens with: sentences generated from the numbers of the headline table
 * (./headline.ts) — which variant is best on the target task, how much of the best gain each
 * other variant reaches and at what share of trainable parameters, what tuning cost the general
 * capabilities — and, when the run compared seeds (evaluate:compare), the means with their 95 %
 * intervals and the paired tests against full fine-tuning. With one seed it says that the
 * differences carry no interval. The best value of every ↑/↓ column is marked by the renderer
 * (./render.ts, bestRows).
 */
import { EvaluationComparisonTable } from '@circuit-tuning/contracts';
import { readArrowTable } from '@circuit-tuning/runtime';
import { formatValue } from '@circuit-tuning/viz';
import type { StepView } from './sections';

/** One evaluated model as the headline saw it. */
export interface VerdictRow {
  name: string;
  /** True for the model as loaded (nothing trained). */
  base: boolean;
  target: { dataset: string; logitDiff: number | null; accuracy: number | null } | undefined;
  /** Column label (with its ↑/↓) → value. */
  capabilities: Map<string, number>;
  /** Mean trainable share of the model's parameters (0 for the base model). */
  trainableFraction: number | null;
}

const percent = (x: number): string => `${Math.round(100 * x)} %`;
const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${formatValue(Math.abs(x))}`;
const lowerIsBetter = (column: string) => column.includes('↓');
const plain = (column: string) => column.replace(/\s*[↑↓]\s*$/, '');

/** Sentences from the headline's rows (and intervals from a comparison over seeds, when the run has one). */
export async function verdictSentences(rows: readonly VerdictRow[], views: readonly StepView[]): Promise<string[]> {
  const out: string[] = [];
  const base = rows.find((r) => r.base);
  const scored = rows.filter((r) => r.target?.logitDiff !== null && r.target?.logitDiff !== undefined);
  if (scored.length > 0) {
    const dataset = scored[0]!.target!.dataset;
    const ld = (r: VerdictRow) => r.target!.logitDiff!;
    const best = scored.reduce((a, b) => (ld(b) > ld(a) ? b : a));
    const baseText = base?.target?.logitDiff === null || base?.target?.logitDiff === undefined ? '' : `; the base model's is ${formatValue(base.target.logitDiff)}`;
    const accuracy = best.target!.accuracy === null ? '' : ` (accuracy ${percent(best.target!.accuracy)})`;
    out.push(`On the target task (${dataset}), ${best.name} has the highest logit diff: ${formatValue(ld(best))}${accuracy}${baseText}.`);
    if (base?.target?.logitDiff !== null && base?.target?.logitDiff !== undefined && !best.base) {
      const bestGain = ld(best) - base.target.logitDiff;
      for (const row of scored) {
        if (row === best || row.base) continue;
        const share = bestGain === 0 ? null : (ld(row) - base.target.logitDiff) / bestGain;
        const trainable = row.trainableFraction === null ? '' : ` with ${formatShare(row.trainableFraction)} of the parameters trainable${best.trainableFraction === null ? '' : ` (${best.name}: ${formatShare(best.trainableFraction)})`}`;
        out.push(`${capitalise(row.name)} reaches ${share === null ? 'none' : percent(share)} of ${best.name}'s gain over the base model${trainable}.`);
      }
    }
  }
  if (base !== undefined) {
    for (const column of new Set(rows.flatMap((r) => [...r.capabilities.keys()]))) {
      const baseValue = base.capabilities.get(column);
      if (baseValue === undefined) continue;
      const changes = rows
        .filter((r) => !r.base && r.capabilities.has(column))
        .map((r) => ({ name: r.name, value: r.capabilities.get(column)!, delta: r.capabilities.get(column)! - baseValue }));
      if (changes.length === 0) continue;
      const worse = (d: number) => (lowerIsBetter(column) ? d > 0 : d < 0);
      const worst = changes.reduce((a, b) => (worse(b.delta) && Math.abs(b.delta) > Math.abs(a.delta) ? b : a));
      const list = changes.map((c) => `${c.name} ${formatValue(c.value)} (${signed(c.delta)})`).join(', ');
      const verdict = worse(worst.delta) ? `${worst.name} loses the most` : 'no variant loses any';
      out.push(`${capitalise(plain(column))}: base model ${formatValue(baseValue)}; ${list}: ${verdict}.`);
    }
  }
  out.push(...(await seedSentences(views)));
  return out;
}

/** Means over seeds with their intervals, from evaluate:compare; or the one-seed caveat. */
async function seedSentences(views: readonly StepView[]): Promise<string[]> {
  for (const view of views.filter((v) => v.stageId === 'evaluate:compare')) {
    const output = view.output('comparison');
    if (output === undefined) continue;
    const { columns: c, numRows } = await readArrowTable(output.path, EvaluationComparisonTable);
    const parts: string[] = [];
    let seeds = 1;
    const tests: string[] = [];
    for (let i = 0; i < numRows; i++) {
      if (c.task[i] !== 'target' || c.metric[i] !== 'logit_diff' || c.condition[i] !== '') continue;
      seeds = Math.max(seeds, c.n_seeds[i] as number);
      const lo = c.ci_low[i];
      const hi = c.ci_high[i];
      parts.push(`${c.run[i]} ${formatValue(c.value[i] as number)}${lo === null || hi === null ? '' : ` [${formatValue(lo)}, ${formatValue(hi)}]`}`);
      const p = c.p_vs_full[i];
      if (p !== null && p !== undefined) tests.push(`${c.run[i]} − full ${signed(c.diff_vs_full[i] as number)} (p = ${formatValue(p)}, signs ${c.signs_vs_full[i]})`);
    }
    if (parts.length === 0 || seeds < 2) continue;
    const out = [`Over ${seeds} seeds (${view.step.id}), the target logit diff with its 95 % interval: ${parts.join('; ')}.`];
    if (tests.length > 0) out.push(`Paired over the seeds against full fine-tuning: ${tests.join('; ')}.`);
    return out;
  }
  return [
    'Each variant ran with one seed, so these differences carry no interval: fixtures/pipelines/disagreement-comparison.yaml runs three seeds and reports 95 % intervals and paired tests.',
  ];
}

/** A share of parameters as the headline table writes it: one decimal, three below 0.1 %. */
export function formatShare(x: number): string {
  return `${(100 * x).toFixed(x > 0 && x < 0.001 ? 3 : 1)} %`;
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
