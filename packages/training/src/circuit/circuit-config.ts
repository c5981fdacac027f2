import { ParameterMappingConfig } from '@circuit-tuning/contracts';
import { discoveryConfigShape } from '@circuit-tuning/discovery';
import { z } from 'zod';
import { VariantConfig } from '../stages/common';

/** How each step's circuit is found (docs/method.md §2, §4.1 step 1). */
export const StepDiscoveryConfig = z.strictObject({
  /**
   * What each discovery scores: 'prompts', the task's prompts (a sample of the prompts input's
   * train split); 'batch', the step's own training batch (the reference code's mode): each row's
   * target position (its highest loss weight; the last predicting position when the weights are
   * uniform) is scored on the log-probability of the row's next token, with mean ablation (the
   * means over the batch), so no corrupted pairs are needed. docs/method.md §4.1.
   */
  on: z
    .enum(['prompts', 'batch'])
    .default('prompts')
    .describe(
      "what each discovery scores: 'prompts' (a sample of the task's prompts) or 'batch' (the step's training batch at its target positions, the reference code's mode; needs metric neg-loss and ablation mean or zero)",
    ),
  /** The attribution method (discover:eap or discover:eap-ig). */
  method: z.enum(['eap', 'eap-ig']).default('eap').describe('the attribution method: EAP or EAP-IG'),
  // Metric, ablation, positions and graph mean what they mean to discovery, with its defaults:
  // one source (a circuit found in training is found as discover:eap would find it).
  metric: discoveryConfigShape.metric,
  ablation: discoveryConfigShape.ablation,
  positions: discoveryConfigShape.positions,
  /** EAP-IG's integration steps. */
  steps: z.number().int().positive().default(5).describe("EAP-IG's integration steps"),
  /** Prompts (train split of the prompts table) scored for each discovery. */
  prompts: z.number().int().positive().default(16).describe('prompts (train split of the prompts table) scored for each discovery'),
  graph: discoveryConfigShape.graph,
  kvReaders: discoveryConfigShape.kvReaders,
  memoryBudgetMB: discoveryConfigShape.memoryBudgetMB,
  /** Rank edges by the "top nodes" reweighting instead of |score|. */
  topNodes: z.boolean().default(false).describe('rank edges by the "top nodes" reweighting instead of |score|'),
});

/** Top-N over training: constant, or linear/cosine from `start` to `end` over `steps` steps. */
export const TopNConfig = z.strictObject({
  /** N at the first step (and throughout when `end` is absent). */
  start: z.number().int().positive().default(1000).describe('edges in the circuit at the first step (throughout when end is absent)'),
  /** N reached after `steps` steps; constant N when absent. */
  end: z.number().int().positive().optional().describe('edges in the circuit after topN.steps steps (constant N when absent)'),
  /** Steps from `start` to `end`; the run's steps when absent (circuit/planner.ts). */
  steps: z.number().int().positive().optional().describe("steps over which N goes from start to end (the run's steps when absent)"),
  /** Shape of the change from `start` to `end`. */
  kind: z.enum(['linear', 'cosine']).default('linear').describe('shape of the change from start to end'),
});

export const CircuitTuningConfig = VariantConfig.extend({
  /**
   * 'gradient-mask': the forward pass runs the full model and only the update is restricted (the
   * reference code). 'edge-ablated': the forward pass itself runs the circuit, every other edge
   * ablated with its mean over the batch (the paper's wording).
   */
  mode: z
    .enum(['gradient-mask', 'edge-ablated'])
    .default('gradient-mask')
    .describe(
      "'gradient-mask': the forward pass runs the full model, only the update is restricted (the reference code); 'edge-ablated': the forward pass runs the circuit, every other edge mean-ablated over the batch (the paper's wording)",
    ),
  discovery: StepDiscoveryConfig.prefault({}).describe("how each step's circuit is found (docs/method.md §2, §4.1 step 1)"),
  topN: TopNConfig.prefault({}).describe('top-N (edges in the circuit) over training: constant, or linear/cosine from start to end over steps'),
  /** Rediscover every k steps (the paper: every step). */
  every: z.number().int().positive().default(1).describe('rediscover the circuit every k steps (the paper: every step)'),
  /** Which parameters each node of the circuit trains (docs/method.md §1, §4.1 step 2). */
  parameterMapping: ParameterMappingConfig.prefault({}).describe('which parameters each node of the circuit trains (docs/method.md §1, §4.1 step 2)'),
  /** Also train these normally frozen groups. */
  trainEmbeddings: z.boolean().default(false).describe('also train the (normally frozen) embeddings'),
  trainNorms: z.boolean().default(false).describe('also train the (normally frozen) layer norms'),
  /**
   * A found circuit can own no parameters (a small top-N pruned down to nothing, or to
   * input→logits): 'error' stops the run; 'skip-step' runs such steps without an update;
   * 'keep-previous' trains the last circuit that owned parameters (skipping until there is one).
   * Each such step is logged and marked in the log table's `empty_circuit` column.
   */
  emptyCircuit: z
    .enum(['error', 'skip-step', 'keep-previous'])
    .default('error')
    .describe(
      "a circuit that owns no parameters: 'error' stops the run, 'skip-step' runs the step without an update, 'keep-previous' trains the last circuit that owned parameters",
    ),
  /**
   * The random-activation control (circuit/random-extra.ts): each step also trains random nodes
   * outside the circuit until the extra trainable entries reach `ratio` × the circuit's own.
   * Absent: the circuit alone (the parsed config of a run without it is unchanged).
   */
  randomExtra: z
    .strictObject({
      ratio: z
        .number()
        .positive()
        .describe("extra trainable entries to reach, as a multiple of the circuit's own (whole nodes drawn at random outside the circuit, per step, from the run's seed)"),
    })
    .optional()
    .describe('the random-activation control: besides the circuit, train randomly drawn nodes outside it each step (absent: the circuit alone)'),
  /** Record the circuit every this many steps (circuit_log output). */
  circuitLogEvery: z.number().int().positive().default(10).describe('record the circuit every this many steps (circuit_log output)'),
});
export type CircuitTuningConfig = z.output<typeof CircuitTuningConfig>;
