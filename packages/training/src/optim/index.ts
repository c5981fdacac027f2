import { z } from 'zod';
import { adam } from './adam';
import type { Optimizer } from './optimizer';
import { sgd } from './sgd';

export type { Optimizer, ParameterUpdate } from './optimizer';
export { adam, sgd };

/** Adam's settings in a config (AdamSettings of @circuit-tuning/native, less `decoupled`, which the kind says). */
const adamFields = (weightDecay: number) => ({
  /** Decay of the first-moment (mean) estimate. */
  beta1: z.number().min(0).max(1).default(0.9).describe('decay of the first-moment (mean) estimate, 0 to 1'),
  /** Decay of the second-moment (uncentred variance) estimate. */
  beta2: z.number().min(0).max(1).default(0.999).describe('decay of the second-moment (uncentred variance) estimate, 0 to 1'),
  /** Added to the root of the second moment before dividing. */
  epsilon: z.number().positive().default(1e-8).describe('added to the root of the second moment before dividing'),
  /** λ: 'adam' adds λ·w to the gradient, 'adamw' subtracts it from the weights beside the Adam step (optim/adam.ts). */
  weightDecay: z
    .number()
    .min(0)
    .default(weightDecay)
    .describe("weight decay λ: 'adam' adds λ·w to the gradient, 'adamw' applies it to the weights beside the Adam step (decoupled)"),
});

/** Optimizer settings as they appear in configs; the paper's defaults are SGD, momentum 0.9, λ 1e-4. */
export const OptimizerConfig = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('sgd').describe('SGD with momentum (the paper)'),
    /** Momentum of the update, 0 to 1. */
    momentum: z.number().min(0).max(1).default(0.9).describe('momentum of the update, 0 to 1'),
    /** λ: λ·w is added to the gradient. */
    weightDecay: z.number().min(0).default(1e-4).describe('weight decay λ: λ·w is added to the gradient'),
  }),
  z.strictObject({ kind: z.literal('adam').describe('Adam, weight decay added to the gradient'), ...adamFields(0) }),
  z.strictObject({ kind: z.literal('adamw').describe('AdamW: Adam with decoupled weight decay'), ...adamFields(0.01) }),
]);
export type OptimizerConfig = z.output<typeof OptimizerConfig>;

export function createOptimizer(config: OptimizerConfig): Optimizer {
  switch (config.kind) {
    case 'sgd':
      return sgd(config);
    case 'adam':
      return adam({ ...config, decoupled: false });
    case 'adamw':
      return adam({ ...config, decoupled: true });
  }
}
