import { type ColumnsOf, ConfigError, PromptsTable, TextsTable, TrainLogTable, validatePromptsTable } from '@circuit-tuning/contracts';
import { loadModel } from '@circuit-tuning/model';
import { defineStage, ensureBackend, readArrowTable, type StageContext, writeArrowTable, writeJsonAtomic } from '@circuit-tuning/runtime';
import { z } from 'zod';
import { EvaluationMetricsTable } from '../tables';
import { type EvaluationTables, evaluateTasks, type MetricRow } from '../task-metrics';

const prompts = (description: string) => ({ kind: 'arrow', schema: PromptsTable, optional: true, description }) as const;

const inputs = {
  model: { kind: 'model-dir', description: 'the model to evaluate' },
  target: prompts('the task the model was tuned for (any prompt task: logit difference, accuracy, answer probability)'),
  sv_agreement: prompts('subject-verb agreement prompts'),
  sv_disagreement: prompts('subject-verb disagreement prompts'),
  ioi: prompts('indirect-object identification prompts'),
  gender_bias: prompts('pro/anti-stereotyped pronoun prompts: prejudice risk'),
  general_text: { kind: 'arrow', schema: TextsTable, optional: true, description: 'held-out general text: perplexity' },
  train_log: {
    kind: 'arrow',
    schema: TrainLogTable,
    optional: true,
    description: "the training run's log: trainable parameters (mean over steps, count and share of the model) and training time",
  },
} as const;

const outputs = {
  metrics: { kind: 'arrow', schema: EvaluationMetricsTable, description: 'one row per (task, metric, condition)' },
  summary: { kind: 'json', description: 'the same as { task: { metric: value } } (overall rows)' },
} as const;

/** Task names in the metrics table for each input port. */
export const TASK_OF_PORT: Readonly<Record<Exclude<keyof typeof inputs, 'model' | 'train_log'>, string>> = {
  target: 'target',
  sv_agreement: 'sv-agreement',
  sv_disagreement: 'sv-disagreement',
  ioi: 'ioi',
  gender_bias: 'gender-bias',
  general_text: 'general-text',
};

export const EvaluateTasksConfig = z.strictObject({
  /** The run's label in the table (what a comparison calls it). */
  label: z.string().min(1).default('model').describe('the run\'s label in the table (what a comparison calls it)'),
  /** Rows of this split of every table. */
  split: z.string().default('test').describe('use the rows of this split of every table'),
  /** At most this many rows (prompts or texts) per table. */
  limit: z.number().int().positive().optional().describe('use at most this many rows (prompts or texts) per table (all when absent)'),
  /** Rows per forward pass. */
  batchSize: z.number().int().positive().default(32).describe('rows per forward pass'),
});
export type EvaluateTasksConfig = z.output<typeof EvaluateTasksConfig>;

type TasksContext = StageContext<EvaluateTasksConfig, typeof inputs, typeof outputs>;

/**
 * `evaluate:tasks` — task metrics and general capability of one model (docs/method.md §5): logit
 * difference, accuracy and answer probability on each prompt task wired, prejudice risk on the
 * gender prompts, perplexity on general text. Tasks the model was not tuned on (IOI, agreement when
 * tuned on de-biasing) are general capability too: wire them beside the target.
 */
export const evaluateTasksStage = defineStage({
  slot: 'evaluate',
  variant: 'tasks',
  // Version 2: perplexity through the runtime's nextTokenCrossEntropy. Version 3: the step's seed in every row.
  version: 3,
  description: 'Task metrics (logit difference, accuracy, answer probability, prejudice risk) and perplexity of one model.',
  config: EvaluateTasksConfig,
  inputs,
  outputs,
  run: (ctx) => runTasks(ctx as TasksContext),
});

async function runTasks(ctx: TasksContext) {
  const { config } = ctx;
  const tables: EvaluationTables = {};
  const promptTables: [string, ColumnsOf<typeof PromptsTable>][] = [];
  for (const port of Object.keys(TASK_OF_PORT) as (keyof typeof TASK_OF_PORT)[]) {
    const path = ctx.inputs[port];
    if (path === undefined) continue;
    const task = TASK_OF_PORT[port];
    if (port === 'general_text') tables[task] = { kind: 'text', table: (await readArrowTable(path, TextsTable)).columns };
    else {
      const table = (await readArrowTable(path, PromptsTable)).columns;
      promptTables.push([path, table]);
      tables[task] = { kind: port === 'gender_bias' ? 'gender-bias' : 'prompts', table };
    }
  }
  if (Object.keys(tables).length === 0) {
    throw new ConfigError("evaluate:tasks has nothing to evaluate: no table is wired", { hint: `wire at least one of ${Object.keys(TASK_OF_PORT).join(', ')}` });
  }
  await ensureBackend();
  const model = await loadModel(ctx.inputs.model, { tokenizer: 'optional' });
  try {
    for (const [path, table] of promptTables) validatePromptsTable(table, { source: path, limits: model.config });
    ctx.logger.info(`evaluating ${Object.keys(tables).join(', ')}`, { split: config.split });
    const rows = await evaluateTasks(model, tables, { split: config.split, limit: config.limit, batchSize: config.batchSize, signal: ctx.signal });
    if (ctx.inputs.train_log !== undefined) rows.push(...trainingRows((await readArrowTable(ctx.inputs.train_log, TrainLogTable)).columns, model.params.count()));
    await writeMetrics(ctx.output('metrics'), { run: config.label, seed: ctx.seed }, rows, ctx.producer);
    const summary = summarizeMetrics(rows);
    await writeJsonAtomic(ctx.output('summary'), { run: config.label, split: config.split, tasks: summary });
    return { summary: { run: config.label, rows: rows.length } };
  } finally {
    model.dispose();
  }
}

/**
 * What a training run cost, from its log (task `training`): the entries a step could change, as
 * a mean over steps (circuit-tuning's circuit changes size) and as a share of the model's
 * parameters, and the summed step times (evaluation and checkpoints excluded).
 */
export function trainingRows(log: { trainable_parameters: ArrayLike<number>; step_ms: ArrayLike<number> }, modelParameters: number): MetricRow[] {
  const steps = log.trainable_parameters.length;
  let trainable = 0;
  let ms = 0;
  for (let i = 0; i < steps; i++) {
    trainable += log.trainable_parameters[i]!;
    ms += log.step_ms[i]!;
  }
  const meanTrainable = steps === 0 ? Number.NaN : trainable / steps;
  const row = (metric: string, value: number): MetricRow => ({ task: 'training', dataset: 'train_log', metric, condition: '', value, n: steps });
  return [row('trainable_parameters', meanTrainable), row('trainable_fraction', meanTrainable / modelParameters), row('train_seconds', ms / 1000), row('steps', steps)];
}

/**
 * Writes metric rows as a `ct.evaluation.metrics` table, labelled with the run and the seed a
 * comparison pairs it by.
 */
export async function writeMetrics(path: string, label: { run: string; seed: number }, rows: readonly MetricRow[], producer: string): Promise<void> {
  await writeArrowTable(
    path,
    EvaluationMetricsTable,
    {
      run: rows.map(() => label.run),
      seed: rows.map(() => label.seed),
      task: rows.map((r) => r.task),
      dataset: rows.map((r) => r.dataset),
      metric: rows.map((r) => r.metric),
      condition: rows.map((r) => r.condition),
      value: rows.map((r) => r.value),
      n: Int32Array.from(rows, (r) => r.n),
    },
    { producer },
  );
}

/** { task: { metric: value } } of the overall rows; NaN becomes null (JSON has no NaN). */
export function summarizeMetrics(rows: readonly MetricRow[]): Record<string, Record<string, number | null>> {
  const out: Record<string, Record<string, number | null>> = {};
  for (const r of rows) {
    if (r.condition !== '') continue;
    out[r.task] ??= {};
    out[r.task]![r.metric] = Number.isFinite(r.value) ? r.value : null;
  }
  return out;
}
