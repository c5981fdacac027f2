import { z } from 'zod';

/** Learning rate over steps: linear warm-up, then constant, linear or cosine decay to `minFactor`. */
export const ScheduleConfig = z.strictObject({
  /** Steps of linear warm-up from 0 to the learning rate. */
  warmupSteps: z.number().int().min(0).default(0).describe('steps of linear warm-up to the learning rate'),
  /** Shape of the decay after warm-up. */
  decay: z.enum(['constant', 'linear', 'cosine']).default('constant').describe('the learning rate after warm-up: constant, or a linear or cosine decay to minFactor · learningRate'),
  /** Where the decay ends, as a share of the peak learning rate. */
  minFactor: z.number().min(0).max(1).default(0).describe('where the decay ends, as a share of learningRate (0 to 1)'),
});
export type ScheduleConfig = z.output<typeof ScheduleConfig>;

export function learningRateAt(step: number, totalSteps: number, peak: number, schedule: ScheduleConfig): number {
  if (schedule.warmupSteps > 0 && step < schedule.warmupSteps) return (peak * (step + 1)) / schedule.warmupSteps;
  if (schedule.decay === 'constant') return peak;
  const span = Math.max(1, totalSteps - schedule.warmupSteps);
  const progress = Math.min(1, (step - schedule.warmupSteps) / span);
  const shape = schedule.decay === 'linear' ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress));
  return peak * (schedule.minFactor + (1 - schedule.minFactor) * shape);
}
