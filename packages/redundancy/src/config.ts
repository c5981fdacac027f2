import { discoveryConfigShape } from '@circuit-tuning/discovery';
import { z } from 'zod';
import { TARGET_METRICS } from './target-metric';

const increasing = (what: string) =>
  z
    .array(z.number().int().positive())
    .min(1)
    .refine((xs) => xs.every((x, i) => i === 0 || x > xs[i - 1]!), { message: `${what} must increase` });

export const DrawConfig = z.strictObject({
  svg: z.boolean().default(true).describe('write the figures as SVG'),
  png: z.boolean().default(true).describe('write the figures as PNG'),
});

/** `redundancy:curves`: how edges are scored, which circuits are measured, and τ. */
export const CurvesConfig = z.strictObject({
  /** How edges are scored when no edges table is wired (EAP-IG by default: MIB finds it the most faithful). */
  method: z
    .enum(['eap', 'eap-ig', 'exact'])
    .default('eap-ig')
    .describe('how edges are scored when no edges table is wired (EAP-IG by default: MIB finds it the most faithful)'),
  /** EAP-IG's integration steps. */
  steps: z.number().int().min(1).max(512).default(5).describe("EAP-IG's integration steps, 1 to 512"),
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
      absolute: z.boolean().default(true).describe('rank by |score| (true) or by the signed score'),
      topNodes: z.boolean().default(false).describe("rank by the \"top nodes\" reweighting |s(u,v)| · Σ_v' |s(u,v')| · Σ_u' |s(u',v)|"),
      prune: z.boolean().default(true).describe('remove dangling edges and nodes'),
    })
    .prefault({})
    .describe("how edges are ranked (as discovery's selection) and whether dangling edges are pruned"),
  /** Circuit sizes: a log grid of `points` sizes per kind, or explicit sizes. */
  grid: z
    .strictObject({
      /** Sizes of the log grid per kind (edges, nodes). */
      points: z.number().int().min(2).max(200).default(16).describe('sizes of the log grid per kind (edges, nodes), 2 to 200'),
      /** Explicit circuit sizes in edges, increasing; the log grid when absent. */
      edges: increasing('grid.edges').optional().describe('explicit circuit sizes in edges, increasing (the log grid when absent)'),
      /** Explicit circuit sizes in nodes, increasing; the log grid when absent. */
      nodes: increasing('grid.nodes').optional().describe('explicit circuit sizes in nodes, increasing (the log grid when absent)'),
    })
    .prefault({})
    .describe('circuit sizes: a log grid of `points` sizes per kind, or explicit sizes'),
  /** The faithfulness level N* must reach. */
  tau: z.number().gt(0).max(1).default(0.9).describe('τ: the faithfulness level N* must reach, in (0, 1]'),
  /** One random ranking per seed and kind (the baseline); [] for none. */
  randomSeeds: z.array(z.number().int().nonnegative()).default([1, 2, 3, 4, 5]).describe('one random ranking per seed and kind (the baseline); [] for none'),
  /** Narrow N* between grid points: rounds of `points` sizes measured inside the gap. */
  refine: z
    .strictObject({
      /** Rounds of narrowing. */
      rounds: z.number().int().min(0).max(8).default(2).describe('rounds of narrowing, 0 to 8'),
      /** Sizes measured inside the gap each round. */
      points: z.number().int().min(1).max(64).default(6).describe('sizes measured inside the gap each round, 1 to 64'),
    })
    .prefault({})
    .describe('narrow N* between grid points: rounds of `points` sizes measured inside the gap'),
  draw: DrawConfig.prefault({}).describe('which image files of the curves to write'),
});
export type CurvesConfig = z.output<typeof CurvesConfig>;

/**
 * `redundancy:tuning-curve`: how the collected runs are scored. The grid (top-N values, the
 * training settings) lives in the pipeline's train steps (fixtures/pipelines/redundancy.yaml).
 */
export const TuningCurveConfig = z.strictObject({
  /**
   * What the collected circuit-tuning runs vary: 'top-n' (the tuning curve) or 'every' (the
   * rediscovery interval K: the paper's K sweep); every other training setting must be equal.
   */
  axis: z
    .enum(['top-n', 'every'])
    .default('top-n')
    .describe("what the collected circuit-tuning runs vary: 'top-n' (edges per step, the tuning curve) or 'every' (the rediscovery interval K, the K sweep)"),
  /** The target metric on the evaluation prompts (higher is better). */
  metric: z
    .enum(TARGET_METRICS)
    .default('logit-diff')
    .describe('the target metric on the evaluation prompts (each higher is better; target-metric.ts)'),
  /** Evaluation rows: this split of `prompts` (optionally one task, at most evalLimit rows). */
  evalSplit: z.string().default('test').describe('evaluate on the prompt rows of this split'),
  evalTask: z.string().optional().describe('evaluate only on the prompt rows of this task (all tasks when absent)'),
  evalLimit: z.number().int().positive().optional().describe('evaluate on at most this many prompt rows (all when absent)'),
  /** The knee's gain share: the smallest N reaching this share of full fine-tuning's gain. */
  kneeShare: z.number().gt(0).max(1).default(0.9).describe("the knee (axis top-n only): the smallest N reaching this share of full fine-tuning's gain"),
  draw: DrawConfig.prefault({}).describe('which image files of the tuning curve to write'),
});
export type TuningCurveConfig = z.output<typeof TuningCurveConfig>;
