import { barChartSvg, paletteColour, panelGridSvg } from '@circuit-tuning/viz';
import { CONFIDENCE, PAIRED_TEST, type PairedTest, pairedTTest, seedSummary } from './seed-statistics';
import type { MetricRow } from './task-metrics';

/** One run's metrics under its label: a variant and the seed it was trained with. */
export interface LabelledMetrics {
  run: string;
  seed: number;
  rows: readonly MetricRow[];
}

/** The baselines every variant is tested against, by label: full fine-tuning and LoRA (issue 15). */
export const PAIRED_BASELINES = ['full', 'lora'] as const;
export type PairedBaseline = (typeof PAIRED_BASELINES)[number];

/** One variant's value of one (task, metric, condition), over its seeds. */
export interface ComparisonRow extends MetricRow {
  run: string;
  /** The mean over seeds (the value itself for one seed). */
  value: number;
  /** Its seeds, ascending, and their values in that order. */
  seeds: number[];
  values: number[];
  /** The CONFIDENCE interval of the mean (Student t, n − 1 df); null for one seed. */
  ciLow: number | null;
  ciHigh: number | null;
  /** The run deltas are taken against ('' when none). */
  reference: string;
  /** value − the reference run's value for the same (task, metric, condition); null when it has none. */
  delta: number | null;
  /** The paired test against each baseline over their shared seeds; null for the baseline itself and
   * the reference run, or when the baseline is absent, lacks the row or shares no seed. */
  paired: Record<PairedBaseline, PairedTest | null>;
}

const key = (r: Pick<MetricRow, 'task' | 'metric' | 'condition'>) => `${r.task}\u0000${r.metric}\u0000${r.condition}`;

/** Runs of one label: the variant's seeds. Seeds of a label must differ. */
function groupBySeed(runs: readonly LabelledMetrics[]): Map<string, LabelledMetrics[]> {
  const byLabel = new Map<string, LabelledMetrics[]>();
  for (const run of runs) {
    const group = byLabel.get(run.run) ?? [];
    if (group.some((r) => r.seed === run.seed)) throw new Error(`two runs are labelled '${run.run}' with seed ${run.seed}`);
    group.push(run);
    byLabel.set(run.run, group);
  }
  for (const group of byLabel.values()) group.sort((a, b) => a.seed - b.seed);
  return byLabel;
}

/**
 * Several variants' metrics as one long table: per (task, metric, condition) and variant, the
 * mean over its seeds with a confidence interval, the difference from the reference run (e.g. the
 * base model), and a paired test against each of PAIRED_BASELINES over the seeds both ran
 * (seed-statistics.ts). Rows keep the first-seen order of (task, metric, condition), variants the
 * order of their first run.
 */
export function compareRuns(runs: readonly LabelledMetrics[], reference?: string): ComparisonRow[] {
  const byLabel = groupBySeed(runs);
  // Per label and key: seed → value (and the first seed's row for dataset and n).
  const cells = new Map<string, Map<string, { row: MetricRow; bySeed: Map<number, number> }>>();
  const order: string[] = [];
  const seen = new Set<string>();
  for (const [label, group] of byLabel) {
    const own = new Map<string, { row: MetricRow; bySeed: Map<number, number> }>();
    for (const run of group) {
      for (const row of run.rows) {
        const k = key(row);
        if (!seen.has(k)) {
          seen.add(k);
          order.push(k);
        }
        const cell = own.get(k) ?? { row, bySeed: new Map<number, number>() };
        if (cell.bySeed.has(run.seed)) throw new Error(`run '${label}' seed ${run.seed} has two rows for ${row.task} ${row.metric}${row.condition ? ` (${row.condition})` : ''}`);
        cell.bySeed.set(run.seed, row.value);
        own.set(k, cell);
      }
    }
    cells.set(label, own);
  }
  const referenceCells = reference === undefined ? undefined : cells.get(reference);
  const out: ComparisonRow[] = [];
  for (const k of order) {
    const referenceValue = referenceCells?.get(k);
    const referenceMean = referenceValue === undefined ? undefined : seedSummary([...referenceValue.bySeed.values()]).mean;
    for (const [label, own] of cells) {
      const cell = own.get(k);
      if (cell === undefined) continue;
      const seeds = [...cell.bySeed.keys()].sort((a, b) => a - b);
      const values = seeds.map((s) => cell.bySeed.get(s)!);
      const summary = seedSummary(values);
      const paired = Object.fromEntries(
        PAIRED_BASELINES.map((baseline) => {
          // The reference (the untuned model) was not trained: its seed pairs it with nothing.
          const other = label === baseline || label === reference ? undefined : cells.get(baseline)?.get(k);
          const shared = other === undefined ? [] : seeds.filter((s) => other.bySeed.has(s));
          const test = shared.length === 0 ? null : pairedTTest(shared.map((s) => cell.bySeed.get(s)!), shared.map((s) => other!.bySeed.get(s)!));
          return [baseline, test];
        }),
      ) as Record<PairedBaseline, PairedTest | null>;
      out.push({
        ...cell.row,
        run: label,
        value: summary.mean,
        seeds,
        values,
        ciLow: summary.ciLow,
        ciHigh: summary.ciHigh,
        reference: referenceCells === undefined ? '' : (reference as string),
        delta: referenceMean === undefined ? null : summary.mean - referenceMean,
        paired,
      });
    }
  }
  return out;
}

/** Whether a larger value of a metric is better (for arrows and the best variant); undefined when it depends. */
export function higherIsBetter(metric: string): boolean | undefined {
  if (HIGHER_IS_BETTER.has(metric)) return true;
  if (LOWER_IS_BETTER.has(metric)) return false;
  return undefined;
}

const HIGHER_IS_BETTER = new Set(['accuracy', 'logit_diff', 'answer_prob']);
/**
 * A de-biased model should not prefer the stereotyped pronoun: its probability goes down too. The
 * training rows are costs (evaluate:tasks' trainingRows): fewer trainable parameters and less time
 * are better.
 */
const LOWER_IS_BETTER = new Set([
  'answer_loss',
  'perplexity',
  'loss',
  'prejudice_risk',
  'prejudice_risk_balanced',
  'stereotyped_prob',
  'trainable_parameters',
  'trainable_fraction',
  'train_seconds',
]);

/**
 * The best variant(s) of each (task, metric, condition) by mean, among the runs other than the
 * reference (the untuned model is what the variants are measured from, not a contender); none for
 * a metric without a direction or with fewer than two contenders. Ties are all best.
 */
export function bestRuns(rows: readonly ComparisonRow[]): Map<string, Set<string>> {
  const best = new Map<string, Set<string>>();
  const byKey = new Map<string, ComparisonRow[]>();
  for (const row of rows) {
    if (row.run === row.reference || !Number.isFinite(row.value)) continue;
    byKey.set(key(row), [...(byKey.get(key(row)) ?? []), row]);
  }
  for (const [k, contenders] of byKey) {
    const higher = higherIsBetter(contenders[0]!.metric);
    if (higher === undefined || contenders.length < 2) continue;
    const top = higher ? Math.max(...contenders.map((r) => r.value)) : Math.min(...contenders.map((r) => r.value));
    best.set(k, new Set(contenders.filter((r) => r.value === top).map((r) => r.run)));
  }
  return best;
}

/** `mean ± half-width` of a row (the value alone for one seed). */
function formatMean(row: ComparisonRow): string {
  if (row.ciLow === null || row.ciHigh === null) return formatValue(row.value);
  return `${formatValue(row.value)} ± ${formatValue((row.ciHigh - row.ciLow) / 2)}`;
}

const formatP = (p: number | null): string => (p === null ? '–' : Number.isNaN(p) ? 'n/a' : p < 0.001 ? '<0.001' : p.toFixed(3));

/**
 * A readable table per task: one line per metric (and condition), one column per variant, each
 * value the mean over its seeds ± the half-width of its confidence interval, followed by its
 * difference from the reference run; the best variant of each metric in bold. Below it, with
 * several seeds, the paired tests against full fine-tuning and LoRA.
 */
export function comparisonMarkdown(rows: readonly ComparisonRow[], options: { title?: string; runs?: readonly string[] } = {}): string {
  const runs = options.runs ?? [...new Set(rows.map((r) => r.run))];
  const reference = rows.find((r) => r.reference !== '')?.reference;
  const best = bestRuns(rows);
  const seedsOf = new Map(runs.map((run) => [run, Math.max(0, ...rows.filter((r) => r.run === run).map((r) => r.seeds.length))]));
  const multiSeed = [...seedsOf.values()].some((n) => n > 1);
  const lines: string[] = [`# ${options.title ?? 'Comparison of runs'}`, ''];
  if (multiSeed) {
    lines.push(
      `Each value is the mean over a variant's seeds ± the half-width of its ${CONFIDENCE * 100} % confidence interval (Student t, seeds − 1 degrees of freedom); a value without ± comes from one seed.`,
      '',
    );
  }
  if (reference) lines.push(`Differences in parentheses are against **${reference}**. ↑ marks metrics where higher is better, ↓ where lower is.`, '');
  if (best.size > 0) lines.push(`**Bold**: the best variant of the metric by its mean${reference ? ` (${reference} aside)` : ''}.`, '');
  const header = (run: string) => (multiSeed ? `${run} (${seedsOf.get(run)} seed${seedsOf.get(run) === 1 ? '' : 's'})` : run);
  const tasks = [...new Set(rows.map((r) => r.task))];
  for (const task of tasks) {
    const own = rows.filter((r) => r.task === task);
    const datasets = [...new Set(own.map((r) => r.dataset))].filter(Boolean);
    lines.push(`## ${task}${datasets.length > 0 ? ` (${datasets.join('; ')})` : ''}`, '');
    lines.push(`| metric | ${runs.map(header).join(' | ')} |`, `|---|${runs.map(() => '---:').join('|')}|`);
    const metrics = [...new Set(own.map((r) => key(r)))];
    for (const k of metrics) {
      const sample = own.find((r) => key(r) === k)!;
      const cells = runs.map((run) => {
        const row = own.find((r) => key(r) === k && r.run === run);
        if (!row) return '–';
        const value = best.get(k)?.has(run) ? `**${formatMean(row)}**` : formatMean(row);
        return row.delta === null || row.run === row.reference ? value : `${value} (${row.delta >= 0 ? '+' : ''}${formatValue(row.delta)})`;
      });
      lines.push(`| ${metricName(sample)} | ${cells.join(' | ')} |`);
    }
    lines.push('');
    // Overall rows of metrics with a direction; a baseline's own row only against the baselines
    // before it, so that full vs LoRA appears once. Every condition is in the Arrow table.
    const tested = own
      .filter((r) => r.condition === '' && higherIsBetter(r.metric) !== undefined)
      .map((r) => ({ row: r, against: shownBaselines(r) }))
      .filter((t) => t.against.length > 0);
    if (multiSeed && tested.length > 0) {
      const present = PAIRED_BASELINES.filter((b) => tested.some((t) => t.against.includes(b)));
      lines.push(
        `Against ${present.join(' and ')}: Δ is the mean over shared seeds of (variant − baseline), p the p-value of the ${PAIRED_TEST}, signs the sign of Δ at each seed (ascending).`,
        '',
        `| metric | variant | ${present.map((b) => `Δ vs ${b} | p | signs`).join(' | ')} |`,
        `|---|---|${present.map(() => '---:|---:|:---:').join('|')}|`,
      );
      for (const { row, against } of tested) {
        const cells = present.map((b) => {
          const test = against.includes(b) ? row.paired[b] : null;
          return test === null ? '– | – | –' : `${test.meanDiff >= 0 ? '+' : ''}${formatValue(test.meanDiff)} | ${formatP(test.p)} | ${test.signs}`;
        });
        lines.push(`| ${metricName(row)} | ${row.run} | ${cells.join(' | ')} |`);
      }
      lines.push('');
    }
  }
  return `${lines.join('\n')}`;
}

/** The baselines a row's paired tests are shown against: each with two or more shared seeds; for a
 * baseline's own row only the baselines listed before it. */
function shownBaselines(row: ComparisonRow): PairedBaseline[] {
  const own = PAIRED_BASELINES.indexOf(row.run as PairedBaseline);
  return PAIRED_BASELINES.filter((b, i) => (row.paired[b]?.n ?? 0) > 1 && (own < 0 || i < own));
}

function metricName(row: Pick<MetricRow, 'metric' | 'condition'>): string {
  const higher = higherIsBetter(row.metric);
  const arrow = higher === undefined ? '' : higher ? ' ↑' : ' ↓';
  return `${row.metric}${arrow}${row.condition ? ` · ${row.condition}` : ''}`;
}

const formatValue = (x: number): string => (Number.isFinite(x) ? (Math.abs(x) >= 1000 ? x.toFixed(0) : Number(x.toPrecision(3)).toString()) : 'n/a');

/**
 * Small multiples: one bar chart per (task, metric) among `metrics` (overall rows only), one bar
 * per run, so metrics on different scales are never drawn on one axis.
 */
export function comparisonChartSvg(rows: readonly ComparisonRow[], options: { metrics: readonly string[]; title?: string; runs?: readonly string[]; columns?: number }): string | undefined {
  const runs = options.runs ?? [...new Set(rows.map((r) => r.run))];
  const overall = rows.filter((r) => r.condition === '' && options.metrics.includes(r.metric));
  const panels = [...new Set(overall.map((r) => `${r.task}\u0000${r.metric}`))];
  if (panels.length === 0) return undefined;
  const svgs = panels.map((panel) => {
    const [task, metric] = panel.split('\u0000') as [string, string];
    const arrow = higherIsBetter(metric) === undefined ? '' : higherIsBetter(metric) ? ' (higher is better)' : ' (lower is better)';
    return barChartSvg({
      title: `${task}: ${metric}`,
      subtitle: [arrow.trim()],
      categories: runs,
      series: [{ name: metric, values: runs.map((run) => overall.find((r) => r.task === task && r.metric === metric && r.run === run)?.value ?? Number.NaN) }],
      categoryColours: runs.map((_, i) => paletteColour(i)),
      width: Math.max(300, 70 + runs.length * 60),
      height: 300,
    });
  });
  return panelGridSvg(svgs, { title: options.title ?? `Runs compared: ${runs.join(', ')}`, columns: options.columns ?? 3 });
}

