import { discoveryConfigShape } from '@circuit-tuning/discovery';
import { z } from 'zod';
import { TARGET_METRICS } from './target-metric';

const increasing = (what: string) =>
  z
    .array(z.number().int().positive())
    .min(1)
    .refine((xs) => xs.every((x, i) => i === 0 || x > xs[i - 1]!), { message: `${what} must increase` });

export const DrawConfig = z.strictObject({
  svg: z.boolean().default(true),
  png: z.boolean().default(true),
});

/** `redundancy:curves`: how edges are scored, which circuits are measured, and τ. */
export const CurvesConfig = z.strictObject({
  /** How edges are scored when no edges table is wired (EAP-IG by default: MIB finds it the most faithful). */
  method: z.enum(['eap', 'eap-ig', 'exact']).default('eap-ig'),
  /** EAP-IG's integration steps. */
  steps: z.number().int().min(1).max(512).default(5),
  // What scoring and evaluation share with discovery, as discovery declares them (one source,
  // packages/discovery/src/config.ts): the metric, ablation, positions ('all' by default: with
  // corrupted prompts that differ before the prediction position, 'prediction' gives the input's
  // edges no score, so top-N circuits are pruned to nothing until N is nearly the whole graph),
  // the graph, which prompt rows, the pass size and memory, the tokenizer check.
  metric: discoveryConfigShape.metric,
  ablation: discoveryConfigShape.ablation,
  positions: discoveryConfigShape.positions,
  graph: discoveryConfigShape.graph,
  split: discoveryConfigShape.split,
  task: discoveryConfigShape.task,
  maxExamples: discoveryConfigShape.maxExamples,
  batchSize: discoveryConfigShape.batchSize,
  memoryBudgetMB: discoveryConfigShape.memoryBudgetMB,
  checkTokenizer: discoveryConfigShape.checkTokenizer,
  /** How edges are ranked (as discovery's selection) and whether dangling edges are pruned. */
  selection: z
    .strictObject({
      absolute: z.boolean().default(true),
      topNodes: z.boolean().default(false),
      prune: z.boolean().default(true),
    })
    .prefault({}),
  /** Circuit sizes: a log grid of `points` sizes per kind, or explicit sizes. */
  grid: z
    .strictObject({
      points: z.number().int().min(2).max(200).default(16),
      edges: increasing('grid.edges').optional(),
      nodes: increasing('grid.nodes').optional(),
    })
    .prefault({}),
  /** The faithfulness level N* must reach. */
  tau: z.number().gt(0).max(1).default(0.9),
  /** One random ranking per seed and kind (the baseline); [] for none. */
  randomSeeds: z.array(z.number().int().nonnegative()).default([1, 2, 3, 4, 5]),
  /** Narrow N* between grid points: rounds of `points` sizes measured inside the gap. */
  refine: z
    .strictObject({
      rounds: z.number().int().min(0).max(8).default(2),
      points: z.number().int().min(1).max(64).default(6),
    })
    .prefault({}),
  draw: DrawConfig.prefault({}),
});
export type CurvesConfig = z.output<typeof CurvesConfig>;

/**
 * `redundancy:tuning-curve`: how the collected runs are scored. The grid (top-N values, the
 * training settings) lives in the pipeline's train steps (fixtures/pipelines/redundancy.yaml).
 */
export const TuningCurveConfig = z.strictObject({
  /** The target metric on the evaluation prompts (higher is better). */
  metric: z.enum(TARGET_METRICS).default('logit-diff'),
  /** Evaluation rows: this split of `prompts` (optionally one task, at most evalLimit rows). */
  evalSplit: z.string().default('test'),
  evalTask: z.string().optional(),
  evalLimit: z.number().int().positive().optional(),
  /** The knee's gain share: the smallest N reaching this share of full fine-tuning's gain. */
  kneeShare: z.number().gt(0).max(1).default(0.9),
  draw: DrawConfig.prefault({}),
});
export type TuningCurveConfig = z.output<typeof TuningCurveConfig>;
