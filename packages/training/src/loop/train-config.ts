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
  lossFactor: z.number().gt(1).default(10),
  window: z.number().int().positive().default(20),
});
export type DivergenceConfig = z.output<typeof DivergenceConfig>;

/** Settings every training variant shares (the variant adds its own). */
export const TrainConfig = z.strictObject({
  steps: z.number().int().positive().default(200),
  batchSize: z.number().int().positive().default(16),
  seqLen: z.number().int().positive().default(64),
  learningRate: z.number().positive().default(1e-3),
  schedule: ScheduleConfig.default({ warmupSteps: 0, decay: 'constant', minFactor: 0 }),
  optimizer: OptimizerConfig.default({ kind: 'sgd', momentum: 0.9, weightDecay: 1e-4 }),
  clipNorm: z.number().positive().optional(),
  /** Loss weight of target tokens (the paper's optional 1/p weighting uses `targetWeighting`). */
  targetWeight: z.number().positive().optional(),
  /** De-biasing: NLL + β·|pronoun logit difference| (docs/method.md §4.3); plain NLL when absent. */
  debias: DebiasConfig.optional(),
  divergence: DivergenceConfig.prefault({}),
  checkpointEvery: z.number().int().positive().default(100),
  keepCheckpoints: z.number().int().positive().default(2),
  evalEvery: z.number().int().positive().default(100),
  evalBatches: z.number().int().positive().default(4),
});
export type TrainConfig = z.output<typeof TrainConfig>;
export type TrainConfigInput = z.input<typeof TrainConfig>;
