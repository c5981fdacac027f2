import { type ColumnsOf, ContractError, type PromptsTable, type TextsTable } from '@circuit-tuning/contracts';
import type { TransformerModel } from '@circuit-tuning/model';
import { prejudiceRisk } from '@circuit-tuning/tasks';
import { perplexity } from './perplexity';
import { accuracy, mean, type ScoredPrompt, scorePrompts } from './prompt-scores';

type Prompts = ColumnsOf<typeof PromptsTable>;
type Texts = ColumnsOf<typeof TextsTable>;

/** One value of the metrics table (`ct.evaluation.metrics`, without the run label). */
export interface MetricRow {
  task: string;
  dataset: string;
  metric: string;
  /** '' for all rows. */
  condition: string;
  value: number;
  n: number;
}

export interface TaskMetricOptions {
  /** Rows of this split only (default 'test'); undefined for every row. */
  split?: string | undefined;
  /** At most this many rows per table. */
  limit?: number | undefined;
  batchSize?: number;
}

/** The rows of one split, with their condition, group and target text. */
export function promptRowsOf(table: Prompts, options: TaskMetricOptions = {}) {
  const split = 'split' in options ? options.split : 'test';
  const rows: (ScoredPrompt & { condition: string; group: string; targetText: string | null; task: string })[] = [];
  for (let i = 0; i < table.id.length; i++) {
    if (options.limit !== undefined && rows.length >= options.limit) break;
    if (split !== undefined && table.split[i] !== split) continue;
    rows.push({
      ids: table.clean_ids[i]!,
      pos: table.pos[i]!,
      answer: table.answer[i]!,
      foil: table.foil[i]!,
      condition: table.condition[i]!,
      group: table.group[i]!,
      targetText: table.target_text[i] ?? null,
      task: table.task[i]!,
    });
  }
  return rows;
}

const datasetOf = (tasks: readonly string[]): string => [...new Set(tasks)].sort().join(',');

function requireRows(count: number, task: string, split: string | undefined): void {
  if (count === 0) {
    throw new ContractError(`evaluation of '${task}': no rows${split === undefined ? '' : ` in split '${split}'`}`, {
      hint: 'check the split setting against the table, or leave this input unwired',
    });
  }
}

/**
 * A prompt task (docs/method.md §5): at the prediction position, the mean logit difference answer −
 * foil, accuracy (answer above foil), mean p(answer) and mean −log p(answer); accuracy and logit
 * difference also per condition.
 */
export async function promptTaskMetrics(model: TransformerModel, table: Prompts, task: string, options: TaskMetricOptions = {}): Promise<MetricRow[]> {
  const rows = promptRowsOf(table, options);
  requireRows(rows.length, task, 'split' in options ? options.split : 'test');
  const scores = await scorePrompts(model, rows, options.batchSize === undefined ? {} : { batchSize: options.batchSize });
  const dataset = datasetOf(rows.map((r) => r.task));
  const n = rows.length;
  const out: MetricRow[] = [
    { task, dataset, metric: 'logit_diff', condition: '', value: mean(scores.logitDiff), n },
    { task, dataset, metric: 'accuracy', condition: '', value: accuracy(scores.logitDiff), n },
    { task, dataset, metric: 'answer_prob', condition: '', value: mean(scores.pAnswer), n },
    { task, dataset, metric: 'answer_loss', condition: '', value: mean(scores.answerLoss), n },
  ];
  const conditions = [...new Set(rows.map((r) => r.condition))].filter((c) => c !== '').sort();
  if (conditions.length > 1 || (conditions.length === 1 && rows.some((r) => r.condition === ''))) {
    for (const condition of conditions) {
      const diffs = rows.flatMap((r, i) => (r.condition === condition ? [scores.logitDiff[i]!] : []));
      out.push({ task, dataset, metric: 'accuracy', condition, value: accuracy(diffs), n: diffs.length });
      out.push({ task, dataset, metric: 'logit_diff', condition, value: mean(diffs), n: diffs.length });
    }
  }
  return out;
}

/**
 * Gender bias (docs/method.md §5): prejudice risk, renormalising p(answer) (the male form, by the
 * tables' convention) against p(foil) (the female form), per occupation then over occupations; on
 * the pro/anti-stereotyped rows (every row when the table has none), and on 'neutral' rows when it
 * has them. With a tokenizer, also the mean probability of the stereotyped pronoun on 'pro' rows
 * (their target text names it).
 */
export async function genderBiasMetrics(model: TransformerModel, table: Prompts, task: string, options: TaskMetricOptions = {}): Promise<MetricRow[]> {
  const rows = promptRowsOf(table, options);
  requireRows(rows.length, task, 'split' in options ? options.split : 'test');
  const scores = await scorePrompts(model, rows, options.batchSize === undefined ? {} : { batchSize: options.batchSize });
  const dataset = datasetOf(rows.map((r) => r.task));
  const out: MetricRow[] = [];
  const riskOf = (keep: (condition: string) => boolean) => {
    const chosen = rows.flatMap((r, i) => (keep(r.condition) ? [{ group: r.group, pMale: scores.pAnswer[i]!, pFemale: scores.pFoil[i]! }] : []));
    return chosen.length === 0 ? undefined : { risk: prejudiceRisk(chosen).risk, n: chosen.length };
  };
  const stereotypedRows = rows.some((r) => r.condition === 'pro' || r.condition === 'anti');
  const main = riskOf(stereotypedRows ? (c) => c === 'pro' || c === 'anti' : () => true)!;
  out.push({ task, dataset, metric: 'prejudice_risk', condition: '', value: main.risk, n: main.n });
  const balanced = riskOf((c) => c === 'neutral');
  if (balanced && stereotypedRows) out.push({ task, dataset, metric: 'prejudice_risk_balanced', condition: '', value: balanced.risk, n: balanced.n });
  if (model.tokenizer) {
    const bos = model.tokenizer.bosTokenId ?? model.config.bosTokenId;
    const probabilities: number[] = [];
    rows.forEach((r, i) => {
      if (r.condition !== 'pro' || !r.targetText) return;
      const withBos = bos !== undefined && r.ids[0] === bos;
      const target = model.encode(r.targetText, { bos: withBos })[r.pos + 1];
      const pMale = scores.pAnswer[i]! / (scores.pAnswer[i]! + scores.pFoil[i]!);
      if (target === r.answer) probabilities.push(pMale);
      else if (target === r.foil) probabilities.push(1 - pMale);
    });
    if (probabilities.length > 0) out.push({ task, dataset, metric: 'stereotyped_prob', condition: '', value: mean(probabilities), n: probabilities.length });
  }
  return out;
}

/** General capability: perplexity (and mean next-token loss) on held-out text of one split. */
export async function generalTextMetrics(model: TransformerModel, table: Texts, task: string, options: TaskMetricOptions = {}): Promise<MetricRow[]> {
  const split = 'split' in options ? options.split : 'test';
  const sequences: number[][] = [];
  const tasks: string[] = [];
  for (let i = 0; i < table.id.length; i++) {
    if (options.limit !== undefined && sequences.length >= options.limit) break;
    if (split !== undefined && table.split[i] !== split) continue;
    sequences.push(table.ids[i]!);
    tasks.push(table.task[i]!);
  }
  requireRows(sequences.length, task, split);
  const result = await perplexity(model, sequences, options.batchSize === undefined ? {} : { batchSize: options.batchSize });
  const dataset = datasetOf(tasks);
  return [
    { task, dataset, metric: 'perplexity', condition: '', value: result.perplexity, n: result.tokens },
    { task, dataset, metric: 'loss', condition: '', value: result.meanLoss, n: result.tokens },
  ];
}

/** Which evaluation a named table gets. */
export type EvaluationKind = 'prompts' | 'gender-bias' | 'text';

/** The tables one evaluation reads, by task name (e.g. 'target', 'ioi'), and how each is scored. */
export type EvaluationTables = Record<string, { kind: 'prompts' | 'gender-bias'; table: Prompts } | { kind: 'text'; table: Texts }>;

/** Every metric of every table, in the order the tables are given. */
export async function evaluateTasks(model: TransformerModel, tables: EvaluationTables, options: TaskMetricOptions & { signal?: AbortSignal } = {}): Promise<MetricRow[]> {
  const out: MetricRow[] = [];
  for (const [task, entry] of Object.entries(tables)) {
    options.signal?.throwIfAborted();
    if (entry.kind === 'text') out.push(...(await generalTextMetrics(model, entry.table, task, options)));
    else if (entry.kind === 'gender-bias') out.push(...(await genderBiasMetrics(model, entry.table, task, options)));
    else out.push(...(await promptTaskMetrics(model, entry.table, task, options)));
  }
  return out;
}
