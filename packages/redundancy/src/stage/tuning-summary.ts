import { z } from 'zod';

/** `summary.json` of `redundancy:tuning-curve`: the reference levels and the knee. */
export const TuningCurveSummary = z.strictObject({
  metric: z.string(),
  evalSplit: z.string(),
  evalPrompts: z.number().int(),
  /** What the runs vary: top-N ('top-n') or the rediscovery interval K ('every'). */
  axis: z.enum(['top-n', 'every']),
  /** The target metric of the untuned model and of full fine-tuning (null when not run). */
  base: z.number().nullable(),
  full: z.number().nullable(),
  /** One per circuit-tuning run, by the axis: `x` is its top-N or its K. */
  points: z.array(
    z.strictObject({
      x: z.number().int(),
      topN: z.number().int(),
      every: z.number().int(),
      metric: z.number().nullable(),
      relativeGain: z.number().nullable(),
      /** Mean trainable entries over steps / full fine-tuning's (null without a full run). */
      trainableFraction: z.number().nullable(),
    }),
  ),
  /** The knee of a top-N curve (all null on a K sweep, whose axis has no knee to find). */
  knee: z.strictObject({
    /** The smallest top-N reaching `share` of full fine-tuning's gain. */
    nShare: z.number().int().nullable(),
    share: z.number(),
    /** Kneedle's knee on (log₁₀ N, metric). */
    kneedle: z.number().int().nullable(),
    kneedleStrength: z.number().nullable(),
  }),
  /** Total edges of the model's graph, for reading top-N as a share. */
  edgesTotal: z.number().int(),
  /** The collected training steps: step id and directory, relative to the run directory. */
  runs: z.array(z.strictObject({ name: z.string(), stageDir: z.string() })),
});
export type TuningCurveSummary = z.infer<typeof TuningCurveSummary>;
