import { ParameterMappingConfig } from '@circuit-tuning/contracts';
import { discoveryConfigShape } from '@circuit-tuning/discovery';
import { z } from 'zod';
import { VariantConfig } from '../stages/common';

/** How each step's circuit is found (docs/method.md §2, §4.1 step 1). */
export const StepDiscoveryConfig = z.strictObject({
  method: z.enum(['eap', 'eap-ig']).default('eap'),
  // Metric, ablation, positions and graph mean what they mean to discovery, with its defaults:
  // one source (a circuit found in training is found as discover:eap would find it).
  metric: discoveryConfigShape.metric,
  ablation: discoveryConfigShape.ablation,
  positions: discoveryConfigShape.positions,
  /** EAP-IG's integration steps. */
  steps: z.number().int().positive().default(5),
  /** Prompts (train split of the prompts table) scored for each discovery. */
  prompts: z.number().int().positive().default(16),
  graph: discoveryConfigShape.graph,
  memoryBudgetMB: discoveryConfigShape.memoryBudgetMB,
  /** Rank edges by the "top nodes" reweighting instead of |score|. */
  topNodes: z.boolean().default(false),
});

/** Top-N over training: constant, or linear/cosine from `start` to `end` over `steps` steps. */
export const TopNConfig = z.strictObject({
  start: z.number().int().positive().default(1000),
  end: z.number().int().positive().optional(),
  steps: z.number().int().positive().optional(),
  kind: z.enum(['linear', 'cosine']).default('linear'),
});

export const CircuitTuningConfig = VariantConfig.extend({
  /**
   * 'gradient-mask': the forward pass runs the full model and only the update is restricted (the
   * reference code). 'edge-ablated': the forward pass itself runs the circuit, every other edge
   * ablated with its mean over the batch (the paper's wording).
   */
  mode: z.enum(['gradient-mask', 'edge-ablated']).default('gradient-mask'),
  discovery: StepDiscoveryConfig.prefault({}),
  topN: TopNConfig.prefault({}),
  /** Rediscover every k steps (the paper: every step). */
  every: z.number().int().positive().default(1),
  /** Which parameters each node of the circuit trains (docs/method.md §1, §4.1 step 2). */
  parameterMapping: ParameterMappingConfig.prefault({}),
  /** Also train these normally frozen groups. */
  trainEmbeddings: z.boolean().default(false),
  trainNorms: z.boolean().default(false),
  /**
   * A found circuit can own no parameters (a small top-N pruned down to nothing, or to
   * input→logits): 'error' stops the run; 'skip-step' runs such steps without an update;
   * 'keep-previous' trains the last circuit that owned parameters (skipping until there is one).
   * Each such step is logged and marked in the log table's `empty_circuit` column.
   */
  emptyCircuit: z.enum(['error', 'skip-step', 'keep-previous']).default('error'),
  /** Record the circuit every this many steps (circuit_log output). */
  circuitLogEvery: z.number().int().positive().default(10),
});
export type CircuitTuningConfig = z.output<typeof CircuitTuningConfig>;
