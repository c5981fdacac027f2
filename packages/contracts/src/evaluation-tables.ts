import { defineTableSchema } from './table-schemas';

/**
 * Task metrics of one model (docs/method.md §5), in long form so that any set of tasks and metrics fits
 * one schema and several runs concatenate: one row per (task, metric, condition).
 * Version 2 adds `seed`, so a comparison can pair runs of several variants by seed.
 */
export const EvaluationMetricsTable = defineTableSchema({
  name: 'ct.evaluation.metrics',
  version: 2,
  description: 'Task metrics and general capability of one model: one row per (task, metric, condition).',
  fields: [
    { name: 'run', type: 'utf8', nullable: false, description: "label of the evaluated model, e.g. 'base', 'circuit-tuning'" },
    {
      name: 'seed',
      // float64: a pipeline seed is any safe integer, beyond int32.
      type: 'float64',
      nullable: false,
      description: 'the seed of the evaluating step, which a pipeline sets to its training step’s seed (runs of one seed saw the same batches); an integer',
    },
    { name: 'task', type: 'utf8', nullable: false, description: "the evaluation's role: 'target', 'sv-agreement', 'sv-disagreement', 'ioi', 'gender-bias', 'general-text'" },
    { name: 'dataset', type: 'utf8', nullable: false, description: "the rows' task name(s) in the input table, e.g. 'sv-disagreement'" },
    {
      name: 'metric',
      type: 'utf8',
      nullable: false,
      description: 'logit_diff | accuracy | answer_prob | answer_loss | prejudice_risk | prejudice_risk_balanced | stereotyped_prob | perplexity | loss',
    },
    { name: 'condition', type: 'utf8', nullable: false, description: "a condition of the prompts (e.g. 'attractor'); '' for all rows" },
    { name: 'value', type: 'float64', nullable: false },
    { name: 'n', type: 'int32', nullable: false, description: 'prompts (or tokens, for perplexity and loss) behind the value' },
  ],
});

/**
 * Several runs' metrics side by side, with each value's difference from a reference run. Version 2:
 * a run is a variant over one or more seeds; `value` is the mean over its seeds, with a confidence
 * interval and, per baseline (full fine-tuning and LoRA), the paired test over shared seeds.
 */
export const EvaluationComparisonTable = defineTableSchema({
  name: 'ct.evaluation.comparison',
  version: 2,
  description:
    'Metrics of several variants (base, circuit-tuning, full fine-tuning, LoRA, random circuit, …) over their seeds: mean, 95 % confidence interval, difference from a reference run, and paired t-tests against full fine-tuning and LoRA.',
  fields: [
    { name: 'task', type: 'utf8', nullable: false },
    { name: 'metric', type: 'utf8', nullable: false },
    { name: 'condition', type: 'utf8', nullable: false },
    { name: 'run', type: 'utf8', nullable: false, description: 'the variant: the label its metrics tables carry' },
    { name: 'value', type: 'float64', nullable: false, description: 'the mean over the variant’s seeds (the value itself for one seed)' },
    { name: 'n', type: 'int32', nullable: false, description: 'prompts (or tokens) behind the value of one seed' },
    { name: 'n_seeds', type: 'int32', nullable: false, description: 'seeds the mean is over' },
    { name: 'seeds', type: 'utf8', nullable: false, description: "the seeds, ascending, comma-separated: '1,2,3'" },
    { name: 'ci_low', type: 'float64', nullable: true, description: 'the 95 % confidence interval of the mean (Student t, n_seeds − 1 df); null for one seed' },
    { name: 'ci_high', type: 'float64', nullable: true },
    { name: 'reference', type: 'utf8', nullable: false, description: "the run deltas are taken against; '' when none" },
    { name: 'delta', type: 'float64', nullable: true, description: 'value − the reference run’s value; null when the reference lacks the row' },
    { name: 'test', type: 'utf8', nullable: false, description: "the test behind the p-values: 'paired t-test over seeds (two-sided)'" },
    { name: 'diff_vs_full', type: 'float64', nullable: true, description: 'mean over the seeds both ran of (value − full’s value); null for full itself or when no seed is shared' },
    { name: 'p_vs_full', type: 'float64', nullable: true, description: 'two-sided p-value of the paired test against full; null below two shared seeds' },
    { name: 'signs_vs_full', type: 'utf8', nullable: true, description: "the sign of the difference from full at each shared seed, ascending: '+', '-' or '0'" },
    { name: 'diff_vs_lora', type: 'float64', nullable: true, description: 'mean over the seeds both ran of (value − lora’s value); null for lora itself or when no seed is shared' },
    { name: 'p_vs_lora', type: 'float64', nullable: true, description: 'two-sided p-value of the paired test against lora; null below two shared seeds' },
    { name: 'signs_vs_lora', type: 'utf8', nullable: true, description: "the sign of the difference from lora at each shared seed, ascending: '+', '-' or '0'" },
  ],
});

/**
 * Logit lens of the writers on the answer-minus-foil direction (direct logit attribution): each
 * node's output at the prediction position, through the final norm with the clean run's scale, dotted
 * with W_U[answer] − W_U[foil]. The nodes' values and the unowned biases sum to the logit difference.
 */
export const LogitLensTable = defineTableSchema({
  name: 'ct.evaluation.logit-lens',
  version: 1,
  description: 'Direct logit attribution of every writer node to logit(answer) − logit(foil): mean and spread over prompts.',
  fields: [
    { name: 'node', type: 'utf8', nullable: false, description: "'input', 'a3.h1', 'm2', or 'bias' (the biases no node owns)" },
    { name: 'kind', type: 'utf8', nullable: false, description: 'input | head | mlp | bias' },
    { name: 'layer', type: 'int32', nullable: false, description: '-1 for the input and the biases' },
    { name: 'head', type: 'int32', nullable: false, description: '-1 unless kind = head' },
    { name: 'condition', type: 'utf8', nullable: false, description: "a condition of the prompts; '' for all rows" },
    { name: 'mean', type: 'float64', nullable: false, description: 'mean contribution to the logit difference' },
    { name: 'std', type: 'float64', nullable: false, description: 'standard deviation over prompts' },
    { name: 'n', type: 'int32', nullable: false, description: 'prompts' },
  ],
});

/** Membership of nodes and edges in the circuits of several checkpoints (before, during, after tuning). */
export const CircuitDiffTable = defineTableSchema({
  name: 'ct.evaluation.circuit-diff',
  version: 1,
  description: 'One row per node or edge in any compared circuit: in which checkpoints it is, shared, new or dropped.',
  fields: [
    { name: 'element', type: 'utf8', nullable: false, description: "'node' or 'edge'" },
    { name: 'name', type: 'utf8', nullable: false },
    { name: 'status', type: 'utf8', nullable: false, description: 'shared (first and last) | new (last only) | dropped (first only) | transient (neither)' },
    { name: 'presence', type: 'utf8', nullable: false, description: "one character per checkpoint in order, '1' present, '0' absent" },
    { name: 'checkpoints', type: 'int32', nullable: false, description: 'checkpoints whose circuit contains it' },
  ],
});

/** How edge scores change between the first and the last checkpoint. */
export const EdgeTrendTable = defineTableSchema({
  name: 'ct.evaluation.edge-trends',
  version: 1,
  description: 'One row per edge present in some compared circuit: its score at the first and last checkpoint and the trend.',
  fields: [
    { name: 'edge', type: 'utf8', nullable: false },
    { name: 'score_first', type: 'float64', nullable: true, description: 'score at the first checkpoint; null when the edge is not known there' },
    { name: 'score_last', type: 'float64', nullable: true },
    { name: 'delta', type: 'float64', nullable: true, description: '|score_last| − |score_first|' },
    { name: 'slope', type: 'float64', nullable: true, description: 'least-squares slope of |score| over the checkpoints where it is known, per checkpoint' },
    { name: 'present', type: 'int32', nullable: false, description: 'checkpoints whose circuit contains the edge' },
    { name: 'trend', type: 'utf8', nullable: false, description: 'strengthened | weakened | stable | entered | left | transient' },
  ],
});
