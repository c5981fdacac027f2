/**
 * The table a report opens with: one row per evaluated model (the base model and every fine-tuned
 * variant), joining what `evaluate:tasks` measured on it (the target task on its test split,
 * held-out perplexity, tasks it was not tuned on) with what training it cost (trainable
 * parameters, how many entries actually changed, training time), found by following the
 * evaluated model back to the step that wrote it.
 */
import { join } from 'node:path';
import { TrainLogTable } from '@circuit-tuning/contracts';
import { EvaluationMetricsTable } from '@circuit-tuning/evaluation';
import { readSafetensors, readSafetensorsHeader, WEIGHTS_FILE } from '@circuit-tuning/model';
import { readArrowTable } from '@circuit-tuning/runtime';
import type { FactValue, ReportBuilder, ReportSection, StepView } from './sections';
import { formatShare, type VerdictRow, verdictSentences } from './verdict';

export const HEADLINE_TITLE = 'Headline: the target task, general capability and the cost of tuning';

/** Tasks the headline shows besides the target, and the metric each is read by. */
const CAPABILITY_COLUMNS: readonly { task: string; metric: string; column: string }[] = [
  { task: 'general-text', metric: 'perplexity', column: 'held-out perplexity ↓' },
  { task: 'ioi', metric: 'accuracy', column: 'IOI accuracy ↑' },
  { task: 'sv-agreement', metric: 'accuracy', column: 'agreement accuracy ↑' },
  { task: 'gender-bias', metric: 'prejudice_risk', column: 'prejudice risk ↓' },
];

interface MetricValue {
  value: number;
  n: number;
  dataset: string;
}

/** The overall rows of one evaluation: task → metric → value. */
async function overallMetrics(path: string): Promise<{ run: string | undefined; values: Map<string, Map<string, MetricValue>> }> {
  const { columns: c, numRows } = await readArrowTable(path, EvaluationMetricsTable);
  const values = new Map<string, Map<string, MetricValue>>();
  for (let i = 0; i < numRows; i++) {
    if (c.condition[i] !== '') continue;
    const task = c.task[i] as string;
    if (!values.has(task)) values.set(task, new Map());
    values.get(task)?.set(c.metric[i] as string, { value: c.value[i] as number, n: c.n[i] as number, dataset: c.dataset[i] as string });
  }
  return { run: numRows > 0 ? (c.run[0] as string) : undefined, values };
}

/** Parameters of a model directory (every tensor of its weights file). */
async function parameterCount(modelDir: string): Promise<number> {
  const header = await readSafetensorsHeader(join(modelDir, WEIGHTS_FILE));
  let total = 0;
  for (const tensor of header.tensors) total += tensor.shape.reduce((a, b) => a * b, 1);
  return total;
}

/**
 * Entries of `after` that differ from `before` (tensors matched by name, one at a time): what a
 * training run really changed, whatever it declared trainable.
 */
export async function changedEntries(beforeDir: string, afterDir: string): Promise<number> {
  const before = await readSafetensorsHeader(join(beforeDir, WEIGHTS_FILE));
  const after = await readSafetensorsHeader(join(afterDir, WEIGHTS_FILE));
  const shapes = new Map(before.tensors.map((t) => [t.name, t.shape.join('x')]));
  let changed = 0;
  for (const tensor of after.tensors) {
    const size = tensor.shape.reduce((a, b) => a * b, 1);
    if (shapes.get(tensor.name) !== tensor.shape.join('x')) {
      changed += size;
      continue;
    }
    const a = (await readSafetensors(join(beforeDir, WEIGHTS_FILE), { names: [tensor.name] })).tensors.get(tensor.name)?.data;
    const b = (await readSafetensors(join(afterDir, WEIGHTS_FILE), { names: [tensor.name] })).tensors.get(tensor.name)?.data;
    if (a === undefined || b === undefined) continue;
    for (let i = 0; i < size; i++) if (a[i] !== b[i]) changed++;
  }
  return changed;
}


interface TrainingCost {
  step: string;
  meanTrainable: number;
  minTrainable: number;
  maxTrainable: number;
  seconds: number;
  changed: number | null;
}

/** What the training step that wrote a model cost, from its log; undefined when no training step wrote it. */
async function trainingCost(producer: StepView): Promise<TrainingCost | undefined> {
  const log = producer.outputsWithSchema(TrainLogTable.name)[0];
  if (log === undefined) return undefined;
  const { columns, numRows } = await readArrowTable(log.path, TrainLogTable);
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let ms = 0;
  for (let i = 0; i < numRows; i++) {
    const n = columns.trainable_parameters[i] as number;
    sum += n;
    min = Math.min(min, n);
    max = Math.max(max, n);
    ms += columns.step_ms[i] as number;
  }
  const modelIn = producer.step.inputs.find((i) => i.port === 'model' && i.kind === 'model-dir');
  const modelOut = producer.output('model');
  let changed: number | null = null;
  if (modelIn !== undefined && modelOut !== undefined) {
    // A model from outside the run is named only by its base name in the index: not comparable.
    changed = modelIn.path.startsWith('external:') ? null : await changedEntries(producer.pathOf(modelIn), modelOut.path);
  }
  return {
    step: producer.step.id,
    meanTrainable: numRows === 0 ? 0 : Math.round(sum / numRows),
    minTrainable: numRows === 0 ? 0 : min,
    maxTrainable: max,
    seconds: ms / 1000,
    changed,
  };
}

export const headlineSection: ReportSection = {
  name: 'headline',
  async add() {
    return [];
  },
  async finish(views, report) {
    const evaluations = views.filter((v) => v.stageId === 'evaluate:tasks');
    if (evaluations.length === 0) return;
    const producerOf = new Map<string, StepView>();
    for (const view of views) for (const o of view.step.outputs) producerOf.set(o.path, view);
    const fact = (row: string, column: string, value: FactValue, timing = false) => report.headline(HEADLINE_TITLE, row, column, value, { rowLabel: 'model', timing });
    const targets = new Set<string>();
    const capabilities = new Map<string, MetricValue>();
    let anyTraining = false;
    let varyingCircuit = false;
    const verdictRows: VerdictRow[] = [];
    for (const view of evaluations) {
      const metrics = view.output('metrics');
      if (metrics === undefined) continue;
      const { run, values } = await overallMetrics(metrics.path);
      const row = run === undefined || run === 'model' ? view.step.id : run;
      const modelRecord = view.step.inputs.find((i) => i.port === 'model');
      const producer = modelRecord === undefined ? undefined : producerOf.get(modelRecord.path);
      fact(row, 'model from', producer?.step.id ?? modelRecord?.path ?? '–');

      const target = values.get('target');
      const verdictRow: VerdictRow = { name: row, base: false, target: undefined, capabilities: new Map(), trainableFraction: null };
      verdictRows.push(verdictRow);
      if (target !== undefined) {
        const dataset = [...target.values()][0]?.dataset || 'target';
        targets.add(`${dataset} (n = ${target.get('accuracy')?.n ?? '?'})`);
        fact(row, `${dataset} logit diff ↑`, target.get('logit_diff')?.value ?? null);
        fact(row, `${dataset} accuracy ↑`, target.get('accuracy')?.value ?? null);
        verdictRow.target = { dataset, logitDiff: target.get('logit_diff')?.value ?? null, accuracy: target.get('accuracy')?.value ?? null };
      }
      for (const { task, metric, column } of CAPABILITY_COLUMNS) {
        const value = values.get(task)?.get(metric);
        if (value === undefined) continue;
        capabilities.set(task, value);
        fact(row, column, value.value);
        verdictRow.capabilities.set(column, value.value);
      }

      const modelDir = producer?.output('model')?.path;
      const total = modelDir === undefined ? undefined : await parameterCount(modelDir);
      const cost = producer === undefined ? undefined : await trainingCost(producer);
      if (cost === undefined) {
        // The model as it was loaded: nothing was trained.
        verdictRow.base = true;
        verdictRow.trainableFraction = 0;
        fact(row, 'trainable parameters', 0);
        fact(row, 'trainable fraction', formatShare(0));
        fact(row, 'entries changed', 0);
        fact(row, 'training time (s)', null, true);
        continue;
      }
      anyTraining = true;
      if (cost.minTrainable !== cost.maxTrainable) varyingCircuit = true;
      const range = cost.minTrainable === cost.maxTrainable ? '' : ` (${cost.minTrainable}–${cost.maxTrainable})`;
      fact(row, 'trainable parameters', `${cost.meanTrainable}${range}`);
      fact(row, 'trainable fraction', total === undefined ? null : formatShare(cost.meanTrainable / total));
      verdictRow.trainableFraction = total === undefined ? null : cost.meanTrainable / total;
      fact(row, 'entries changed', cost.changed === null ? null : total === undefined ? cost.changed : `${cost.changed} (${formatShare(cost.changed / total)})`);
      fact(row, 'training time (s)', Number(cost.seconds.toFixed(1)), true);
    }
    addNotes(report, { targets: [...targets], capabilities, anyTraining, varyingCircuit, split: evaluations[0]?.step.config.split });
    for (const sentence of await verdictSentences(verdictRows, views)) report.verdict(sentence);
  },
};

function addNotes(
  report: ReportBuilder,
  facts: { targets: string[]; capabilities: Map<string, MetricValue>; anyTraining: boolean; varyingCircuit: boolean; split: unknown },
): void {
  const note = (text: string) => report.headlineNote(HEADLINE_TITLE, text);
  const split = typeof facts.split === 'string' ? facts.split : 'test';
  if (facts.targets.length > 0) {
    note(
      `Target task: ${facts.targets.join(', ')} prompts of the ${split} split; logit diff = logit(answer) − logit(foil) at the prediction position (for disagreement: the disagreeing minus the agreeing verb), accuracy = share of prompts where it is positive.`,
    );
  }
  const general: string[] = [];
  const perplexity = facts.capabilities.get('general-text');
  if (perplexity) general.push(`perplexity on held-out general text (${perplexity.dataset}, ${perplexity.n} tokens of the ${split} split)`);
  const ioi = facts.capabilities.get('ioi');
  if (ioi) general.push(`indirect-object identification (${ioi.n} prompts), a task no variant was tuned on`);
  if (general.length > 0) note(`General capability: ${general.join('; ')}.`);
  if (facts.anyTraining) {
    note(
      `Trainable parameters: the entries the optimizer could change at a step, averaged over steps${facts.varyingCircuit ? ' (min–max in brackets: circuit-tuning rediscovers its circuit, so the count changes)' : ''}; the fraction is of all the model's parameters. Entries changed: entries whose value differs from the model the training started from, i.e. everything any step touched (LoRA's merge changes whole matrices).`,
    );
    note(
      "Training time: the sum of the training log's step times (forward, backward and update, and circuit-tuning's rediscovery; evaluation and checkpoints excluded). It is a wall-clock measurement and differs between runs.",
    );
  }
}

