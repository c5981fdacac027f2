import { type RunStageResult, runStage, StageRegistry, type StageRunSettings, stageRunSettings } from '@circuit-tuning/runtime';
import { redundancyCurvesStage } from './curves-stage';
import { tuningCurveStage } from './tuning-curve-stage';

/** Both stages of the `redundancy` slot, by variant. */
export const redundancyStages = {
  curves: redundancyCurvesStage,
  'tuning-curve': tuningCurveStage,
} as const;

/** Registers `redundancy:curves` and `redundancy:tuning-curve` (e.g. into the CLI's registry). */
export function registerRedundancyStages(registry: StageRegistry = new StageRegistry()): StageRegistry {
  for (const stage of Object.values(redundancyStages)) registry.register(stage);
  return registry;
}

/**
 * Runs `redundancy:curves` on a model directory and a `ct.prompts` table (optionally a discovery
 * run's edges table, to reuse its scores, and a circuit log, for the per-step node view).
 */
export async function runRedundancyCurves(options: StageRunSettings & { modelDir: string; promptsPath: string; edgesPath?: string; circuitLogPath?: string }): Promise<RunStageResult> {
  return (await runStage(redundancyCurvesStage, {
    ...stageRunSettings(options),
    inputs: {
      model: options.modelDir,
      prompts: options.promptsPath,
      ...(options.edgesPath === undefined ? {} : { edges: options.edgesPath }),
      ...(options.circuitLogPath === undefined ? {} : { circuit_log: options.circuitLogPath }),
    },
  })) as RunStageResult;
}

/**
 * Runs `redundancy:tuning-curve` on a run index of finished training steps (what a pipeline's
 * `{collect: [...]}` writes), the base model and the evaluation prompts.
 */
export async function runTuningCurve(options: StageRunSettings & { runIndexPath: string; modelDir: string; promptsPath: string }): Promise<RunStageResult> {
  return (await runStage(tuningCurveStage, {
    ...stageRunSettings(options),
    inputs: { runs: options.runIndexPath, model: options.modelDir, prompts: options.promptsPath },
  })) as RunStageResult;
}
