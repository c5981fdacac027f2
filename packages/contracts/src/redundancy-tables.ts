import { defineTableSchema } from './table-schemas';

/**
 * Faithfulness curves over circuit sizes (docs/method.md §3): for the discovery method's ranking and for
 * random rankings of the same sizes, in edges (top-N edges) and in nodes (top-N heads and MLPs).
 * One row per (kind, method, seed, size).
 */
export const RedundancyCurveTable = defineTableSchema({
  name: 'ct.redundancy.curve',
  version: 1,
  description: 'Faithfulness of top-N circuits over a log grid of sizes, in edges and in nodes, for a method and a random baseline.',
  fields: [
    { name: 'kind', type: 'utf8', nullable: false, description: "'edges': top-N edges; 'nodes': top-N component nodes (heads and MLPs)" },
    { name: 'method', type: 'utf8', nullable: false, description: "the ranking: the discovery method ('eap', 'eap-ig', …) or 'random'" },
    { name: 'seed', type: 'int32', nullable: false, description: "seed of a random ranking; -1 for the method's" },
    { name: 'size', type: 'int32', nullable: false, description: 'N: edges or component nodes requested' },
    { name: 'fraction', type: 'float64', nullable: false, description: 'N / total of its kind' },
    { name: 'edges', type: 'int32', nullable: false, description: 'edges the circuit keeps (after pruning dangling ones)' },
    { name: 'nodes', type: 'int32', nullable: false, description: 'component nodes (heads and MLPs) the kept edges touch' },
    { name: 'metric', type: 'float64', nullable: false, description: 'M(C), mean over examples' },
    { name: 'faithfulness', type: 'float64', nullable: false, description: '(M(C) − M(∅)) / (M(full) − M(∅))' },
    { name: 'on_grid', type: 'bool', nullable: false, description: 'a point of the log grid (false: added while refining N*)' },
  ],
});

/** Per node: how often it is in the circuit across circuit sizes and across training steps. */
export const NodeFrequencyTable = defineTableSchema({
  name: 'ct.redundancy.node-frequency',
  version: 1,
  description: 'One row per node: its score, the smallest circuit containing it, and its frequency across sizes and training steps.',
  fields: [
    { name: 'name', type: 'utf8', nullable: false, description: "'input', 'a3.h1', 'm2', 'logits'" },
    { name: 'kind', type: 'utf8', nullable: false, description: 'input | head | mlp | logits' },
    { name: 'layer', type: 'int32', nullable: false, description: '-1 for the input, n_layers for the logits' },
    { name: 'head', type: 'int32', nullable: false, description: '-1 unless kind = head' },
    { name: 'score', type: 'float32', nullable: false, description: "signed node score: sum of its outgoing edges' scores (incoming for the logits)" },
    { name: 'rank', type: 'int32', nullable: false, description: "1 = largest |score| among component nodes; 0 for the input and the logits" },
    { name: 'first_size', type: 'int32', nullable: true, description: 'smallest top-N edge circuit of the grid that contains the node; null if none' },
    { name: 'size_frequency', type: 'float64', nullable: false, description: "share of the edge grid's circuits that contain the node" },
    { name: 'step_frequency', type: 'float64', nullable: true, description: 'share of the logged training steps whose circuit contains the node; null without a circuit log' },
  ],
});

/**
 * The tuning curve (docs/method.md §3): the target metric after circuit-tuning with top-N edges for N on
 * a grid, against full fine-tuning and the untuned model. One row per run.
 */
export const TuningCurveTable = defineTableSchema({
  name: 'ct.redundancy.tuning-curve',
  // Version 2: the runs are pipeline steps; `step_dir` (was `stage_dir`) is relative to the run directory.
  // Version 3: `every` (the rediscovery interval K, the K sweep's axis) and `trainable_fraction`.
  version: 3,
  description: 'Target metric reached by circuit-tuning at each top-N (or rediscovery interval K), by full fine-tuning and by the base model.',
  fields: [
    { name: 'run', type: 'utf8', nullable: false, description: "'circuit-tuning', 'full' or 'base'" },
    { name: 'top_n', type: 'int32', nullable: true, description: 'edges per step for circuit-tuning; null otherwise' },
    { name: 'every', type: 'int32', nullable: true, description: 'steps between rediscoveries (K) for circuit-tuning; null otherwise' },
    { name: 'metric', type: 'float64', nullable: false, description: 'the target metric on the evaluation prompts (higher is better)' },
    { name: 'gain', type: 'float64', nullable: false, description: 'metric − the base model’s metric' },
    { name: 'relative_gain', type: 'float64', nullable: false, description: 'gain / full fine-tuning’s gain (NaN when that is 0)' },
    { name: 'logit_diff', type: 'float64', nullable: false, description: 'mean logit(answer) − logit(foil)' },
    { name: 'accuracy', type: 'float64', nullable: false, description: 'share of prompts with logit(answer) > logit(foil)' },
    { name: 'trainable_parameters', type: 'float64', nullable: true, description: 'mean over steps of the entries a step could change; null for the base model' },
    {
      name: 'trainable_fraction',
      type: 'float64',
      nullable: true,
      description: "trainable_parameters / full fine-tuning's trainable_parameters; null for the base model or without a full run",
    },
    { name: 'circuit_edges', type: 'float64', nullable: true, description: 'mean circuit size in edges over steps (circuit-tuning only)' },
    { name: 'circuit_nodes', type: 'float64', nullable: true, description: 'mean circuit size in nodes over steps (circuit-tuning only)' },
    { name: 'final_loss', type: 'float32', nullable: true, description: 'training loss of the last step' },
    { name: 'step_dir', type: 'utf8', nullable: false, description: "the training step's directory, relative to the run directory; '' for the base model" },
  ],
});

/** How often each node is in the circuit of each circuit-tuning run of a tuning curve. */
export const TuningNodeStepsTable = defineTableSchema({
  name: 'ct.redundancy.tuning-nodes',
  // Version 2: `every` (the run's rediscovery interval K): a K sweep's runs share one top-N.
  version: 2,
  description: 'One row per (circuit-tuning run, node): share of the logged steps whose circuit contains the node.',
  fields: [
    { name: 'top_n', type: 'int32', nullable: false },
    { name: 'every', type: 'int32', nullable: false, description: 'steps between rediscoveries (K) of the run' },
    { name: 'node', type: 'utf8', nullable: false },
    { name: 'kind', type: 'utf8', nullable: false, description: 'input | head | mlp | logits' },
    { name: 'layer', type: 'int32', nullable: false },
    { name: 'head', type: 'int32', nullable: false },
    { name: 'step_frequency', type: 'float64', nullable: false },
    { name: 'steps', type: 'int32', nullable: false, description: 'logged steps of the run' },
  ],
});
