import { ConfigError } from '@circuit-tuning/contracts';
import { defineStage, readArrowTable, type StageContext, writeArrowTable, writeFileAtomic } from '@circuit-tuning/runtime';
import { writeFigure } from '@circuit-tuning/viz';
import { z } from 'zod';
import { type ComparisonRow, compareRuns, comparisonChartSvg, comparisonMarkdown, type LabelledMetrics } from '../compare';
import { PAIRED_TEST } from '../seed-statistics';
import { EvaluationComparisonTable, EvaluationMetricsTable } from '../tables';
import type { MetricRow } from '../task-metrics';

const metrics = (description: string) => ({ kind: 'arrow', schema: EvaluationMetricsTable, optional: true, description }) as const;

/**
 * Ports for any other run, each labelled by its own table (the `run` and `seed` columns evaluate:tasks
 * writes): every seed of every variant comes in through one of these, e.g. 11 variants × 3 seeds.
 */
export const EXTRA_RUN_PORTS = 36;

function extraRunPorts(): Record<`run_${number}`, ReturnType<typeof metrics>> {
  return Object.fromEntries(
    Array.from({ length: EXTRA_RUN_PORTS }, (_, i) => [`run_${i + 1}`, metrics(i === 0 ? 'any other run or seed (labelled by its table: variant and seed)' : 'any other run or seed')]),
  );
}

const inputs = {
  base: metrics('the untuned model (the default reference)'),
  circuit_tuning: metrics('circuit-tuning'),
  full: metrics('full fine-tuning'),
  lora: metrics('LoRA'),
  random_circuit: metrics('a random circuit of the same size'),
  fixed_circuit: metrics('a circuit found once before training'),
  ...extraRunPorts(),
} as const;

const outputs = {
  comparison: {
    kind: 'arrow',
    schema: EvaluationComparisonTable,
    description: 'every variant’s metrics over its seeds: mean, 95 % confidence interval, difference from the reference run, paired tests against full and LoRA',
  },
  markdown: { kind: 'file', fileName: 'comparison.md', description: 'one table per task: metrics × variants (mean ± half-width, best in bold), and the paired tests' },
  svg: { kind: 'file', fileName: 'comparison.svg', optional: true, description: 'small multiples: one bar chart per task and metric' },
  png: { kind: 'file', fileName: 'comparison.png', optional: true, description: 'the same as PNG' },
} as const;

export const CompareConfig = z.strictObject({
  /** Port → label, overriding the defaults (the port name, or an extra run's own label). */
  labels: z.record(z.string(), z.string().min(1)).default({}).describe("port → label, overriding the defaults (the port name, or an extra run's own label)"),
  /** The label of the run deltas are taken against; none when it is not wired. */
  reference: z.string().default('base').describe('the label of the run deltas are taken against (no deltas when it is not wired)'),
  /** Metrics drawn (overall rows), one panel per task and metric. */
  chartMetrics: z
    .array(z.string())
    .default(['accuracy', 'logit_diff', 'prejudice_risk', 'perplexity'])
    .describe('metrics drawn (columns of the metrics tables, overall rows), one panel per task and metric'),
  /** Title of the table and chart; names the runs compared when absent. */
  title: z.string().optional().describe('title of the Markdown table and the chart (default: Comparison of <the labels>)'),
  draw: z
    .strictObject({
      svg: z.boolean().default(true).describe('write the bar charts as SVG'),
      png: z.boolean().default(true).describe('write the bar charts as PNG'),
    })
    .prefault({})
    .describe('which image files of the bar charts to write'),
});
export type CompareConfig = z.output<typeof CompareConfig>;

type CompareContext = StageContext<CompareConfig, typeof inputs, typeof outputs>;

/** Default labels of the named ports. */
const PORT_LABELS: Record<string, string> = {
  base: 'base',
  circuit_tuning: 'circuit-tuning',
  full: 'full',
  lora: 'lora',
  random_circuit: 'random-circuit',
  fixed_circuit: 'fixed-circuit',
};

/**
 * `evaluate:compare` — several variants (the base model, circuit-tuning, full fine-tuning, LoRA, a
 * random circuit, …), each over one or more seeds, side by side from their `evaluate:tasks` tables:
 * one Arrow table, one Markdown table per task, and a chart. Tables of one label are one variant's
 * seeds; its mean comes with a Student-t confidence interval and a paired t-test against full
 * fine-tuning and LoRA over the seeds they share (same seed, same batches).
 */
export const evaluateCompareStage = defineStage({
  slot: 'evaluate',
  variant: 'compare',
  // Version 2: seeds per variant (mean, confidence interval, paired tests), 24 extra run ports;
  // 36 since circuit-LoRA joined the disagreement comparison (more optional ports change no output).
  version: 2,
  description: 'Compare variants over their seeds from their metrics tables: mean ± 95 % CI, paired t-tests against full and LoRA, a Markdown table and bar charts.',
  config: CompareConfig,
  inputs,
  outputs,
  run: (ctx) => runCompare(ctx as CompareContext),
});

async function runCompare(ctx: CompareContext) {
  const { config } = ctx;
  for (const port of Object.keys(config.labels)) {
    if (!Object.hasOwn(inputs, port)) throw new ConfigError(`labels: '${port}' is not an input port`, { hint: `ports: ${Object.keys(inputs).join(', ')}` });
  }
  const runs: LabelledMetrics[] = [];
  const portOf = new Map<string, string>();
  for (const port of Object.keys(inputs) as (keyof typeof inputs)[]) {
    const path = ctx.inputs[port];
    if (path === undefined) continue;
    for (const run of await readRuns(path, port, config.labels[port] ?? PORT_LABELS[port])) {
      const id = `${run.run}\u0000${run.seed}`;
      const other = portOf.get(id);
      if (other !== undefined) {
        throw new ConfigError(`two inputs are labelled '${run.run}' with seed ${run.seed} (ports ${other} and ${port})`, {
          hint: "give them distinct names with `labels`, or train and evaluate each seed in steps with their own `seed:`",
        });
      }
      portOf.set(id, port);
      runs.push(run);
    }
  }
  if (runs.length === 0) throw new ConfigError('evaluate:compare has no runs to compare', { hint: `wire at least one of ${Object.keys(inputs).join(', ')}` });
  const labels = [...new Set(runs.map((r) => r.run))];
  const reference = labels.includes(config.reference) ? config.reference : undefined;
  if (reference === undefined) ctx.logger.warn(`no run is labelled '${config.reference}': values are shown without differences`);
  const rows = compareRuns(runs, reference);
  await writeComparison(ctx.output('comparison'), rows, ctx.producer);
  const title = config.title ?? `Comparison of ${labels.join(', ')}`;
  await writeFileAtomic(ctx.output('markdown'), comparisonMarkdown(rows, { title, runs: labels }));
  if (config.draw.svg || config.draw.png) {
    const svg = comparisonChartSvg(rows, { metrics: config.chartMetrics, title, runs: labels });
    if (svg) await writeFigure(svg, { svg: config.draw.svg ? ctx.output('svg') : undefined, png: config.draw.png ? ctx.output('png') : undefined }, { logger: ctx.logger });
  }
  const seeds = Object.fromEntries(labels.map((label) => [label, runs.filter((r) => r.run === label).map((r) => r.seed).sort((a, b) => a - b)]));
  return { summary: { runs: labels, seeds, reference: reference ?? null, rows: rows.length } };
}

/**
 * The runs of one metrics table, one per (label, seed) it holds. `label` (the port's) names them
 * all; without it each keeps its table's label, or the port's name for evaluate:tasks' default 'model'.
 */
async function readRuns(path: string, port: string, label: string | undefined): Promise<LabelledMetrics[]> {
  const { columns: c, numRows } = await readArrowTable(path, EvaluationMetricsTable);
  const runs = new Map<string, LabelledMetrics & { rows: MetricRow[] }>();
  for (let i = 0; i < numRows; i++) {
    const own = c.run[i]!;
    const run = label ?? (own === 'model' ? port.replace(/_/g, '-') : own);
    const seed = c.seed[i]!;
    const id = `${run}\u0000${seed}`;
    if (!runs.has(id)) runs.set(id, { run, seed, rows: [] });
    runs.get(id)!.rows.push({ task: c.task[i]!, dataset: c.dataset[i]!, metric: c.metric[i]!, condition: c.condition[i]!, value: c.value[i]!, n: c.n[i]! });
  }
  return [...runs.values()];
}

async function writeComparison(path: string, rows: readonly ComparisonRow[], producer: string): Promise<void> {
  await writeArrowTable(
    path,
    EvaluationComparisonTable,
    {
      task: rows.map((r) => r.task),
      metric: rows.map((r) => r.metric),
      condition: rows.map((r) => r.condition),
      run: rows.map((r) => r.run),
      value: rows.map((r) => r.value),
      n: Int32Array.from(rows, (r) => r.n),
      n_seeds: Int32Array.from(rows, (r) => r.seeds.length),
      seeds: rows.map((r) => r.seeds.join(',')),
      ci_low: rows.map((r) => r.ciLow),
      ci_high: rows.map((r) => r.ciHigh),
      reference: rows.map((r) => r.reference),
      delta: rows.map((r) => r.delta),
      test: rows.map(() => PAIRED_TEST),
      diff_vs_full: rows.map((r) => r.paired.full?.meanDiff ?? null),
      p_vs_full: rows.map((r) => r.paired.full?.p ?? null),
      signs_vs_full: rows.map((r) => r.paired.full?.signs ?? null),
      diff_vs_lora: rows.map((r) => r.paired.lora?.meanDiff ?? null),
      p_vs_lora: rows.map((r) => r.paired.lora?.p ?? null),
      signs_vs_lora: rows.map((r) => r.paired.lora?.signs ?? null),
    },
    { producer },
  );
}
