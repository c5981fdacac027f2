import { z } from 'zod';
import { adam } from './adam';
import type { Optimizer } from './optimizer';
import { sgd } from './sgd';

export type { Optimizer, ParameterUpdate } from './optimizer';
export { adam, sgd };

/** Adam's settings in a config (AdamSettings of @circuit-tuning/native, less `decoupled`, which the kind says). */
const adamFields = (weightDecay: number) => ({
  beta1: z.number().min(0).max(1).default(0.9),
  beta2: z.number().min(0).max(1).default(0.999),
  epsilon: z.number().positive().default(1e-8),
  weightDecay: z.number().min(0).default(weightDecay),
});

/** Optimizer settings as they appear in configs; the paper's defaults are SGD, momentum 0.9, λ 1e-4. */
export const OptimizerConfig = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('sgd'), momentum: z.number().min(0).max(1).default(0.9), weightDecay: z.number().min(0).default(1e-4) }),
  z.strictObject({ kind: z.literal('adam'), ...adamFields(0) }),
  z.strictObject({ kind: z.literal('adamw'), ...adamFields(0.01) }),
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
