import { z } from 'zod';
import { OptimizerConfig } from '../optim/index';
import { DebiasConfig } from './debias';
import { ScheduleConfig } from './schedule';

/**
 * When a run counts as diverged, besides a loss or gradient norm that is not finite: a step's loss
 * above `lossFactor` times the median loss of the `window` steps before it. The run then stops
 * and keeps the checkpoints written before that step's weights.
 */
export const DivergenceConfig = z.strictObject({
  lossFactor: z.number().gt(1).default(10).describe("a step diverges when its loss exceeds this times the median loss of the window's steps before it"),
  window: z.number().int().positive().default(20).describe('steps whose median loss a step is compared with'),
});
export type DivergenceConfig = z.output<typeof DivergenceConfig>;

/** Tokens per training sequence when a config gives none (or the model's positions, if fewer). */
export const DEFAULT_SEQ_LEN = 64;

/** Settings every training variant shares (the variant adds its own). */
export const TrainConfig = z.strictObject({
  /** Optimizer steps. */
  steps: z.number().int().positive().default(200).describe('optimizer steps'),
  /** Sequences per step. */
  batchSize: z.number().int().positive().default(16).describe('sequences per step'),
  /**
   * Tokens per sequence (padded texts longer than this are refused; packed ones are cut into
   * windows). When absent, DEFAULT_SEQ_LEN or the model's positions if it has fewer; a
   * seqLen longer than the model's positions is an error, not cut silently (common.ts).
   */
  seqLen: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(`tokens per sequence (padded texts longer than this are refused; packed ones are cut into windows); default ${DEFAULT_SEQ_LEN}, or the model's positions if fewer`),
  /** Peak learning rate (the schedule scales it). */
  learningRate: z.number().positive().default(1e-3).describe('peak learning rate (the schedule scales it)'),
  schedule: ScheduleConfig.default({ warmupSteps: 0, decay: 'constant', minFactor: 0 }).describe(
    'learning rate over steps: linear warm-up, then constant, linear or cosine decay to minFactor',
  ),
  optimizer: OptimizerConfig.default({ kind: 'sgd', momentum: 0.9, weightDecay: 1e-4 }).describe(
    "the optimizer, chosen by kind, with that kind's settings (the paper: SGD, momentum 0.9, λ 1e-4)",
  ),
  /** Clip the global gradient norm to this; no clipping when absent. */
  clipNorm: z.number().positive().optional().describe('clip the global gradient norm to this (no clipping when absent)'),
  /** Loss weight of target tokens (the paper's optional 1/p weighting uses `targetWeighting`). */
  targetWeight: z.number().positive().optional().describe('loss weight of the target tokens a text marks (padded packing only); all tokens weigh 1 when absent'),
  /** De-biasing: NLL + β·|pronoun logit difference| (docs/method.md §4.3); plain NLL when absent. */
  debias: DebiasConfig.optional().describe('de-biasing: NLL + β·|pronoun logit difference| (docs/method.md §4.3); plain NLL when absent'),
  divergence: DivergenceConfig.prefault({}).describe('when a run counts as diverged (besides a loss or gradient norm that is not finite); it then stops'),
  /** Write a resumable checkpoint every this many steps (and at the end). */
  checkpointEvery: z.number().int().positive().default(100).describe('write a resumable checkpoint every this many steps (and at the end)'),
  /** Checkpoints kept on disk (the latest). */
  keepCheckpoints: z.number().int().positive().default(2).describe('checkpoints kept on disk (the latest ones)'),
  /** Evaluate the loss on the dev texts every this many steps (and at the end). */
  evalEvery: z.number().int().positive().default(100).describe('evaluate the loss on the dev texts every this many steps (and at the end)'),
  /** Dev batches per evaluation. */
  evalBatches: z.number().int().positive().default(4).describe('dev batches per evaluation'),
});
export type TrainConfig = z.output<typeof TrainConfig>;
export type TrainConfigInput = z.input<typeof TrainConfig>;
