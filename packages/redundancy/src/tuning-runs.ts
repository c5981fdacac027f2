import { join } from 'node:path';
import { ConfigError, type ManifestBackend, type StageManifest } from '@circuit-tuning/contracts';
import { type AnyStageDefinition, parseStageConfig, runStage, type StageReporter, stageId } from '@circuit-tuning/runtime';
import { circuitTuningStage, fullTrainingStage } from '@circuit-tuning/training/stages';
import { fullTrainingKeys, type TuningCurveConfig } from './config';

/** One training run of a tuning curve, as launched (or found finished). */
export interface TuningRun {
  run: 'circuit-tuning' | 'full';
  /** Edges per step; null for full fine-tuning. */
  topN: number | null;
  /** The run's own stage directory (manifest, model, logs, checkpoints). */
  stageDir: string;
  /** Output port → absolute path (model, train_log, circuit_log). */
  outputs: Readonly<Record<string, string | undefined>>;
  manifest: StageManifest;
  /** True when a finished run with the same config and inputs was reused. */
  cached: boolean;
}

export interface TuningRunInputs {
  model: string;
  train: string;
  prompts: string;
  dev?: string | undefined;
}

export interface LaunchTuningRunsOptions {
  /** Runs go to `<runsDir>/circuit-tuning-top-<N>` and `<runsDir>/full`. */
  runsDir: string;
  inputs: TuningRunInputs;
  config: TuningCurveConfig;
  seed: number;
  signal?: AbortSignal;
  /** Receives every event of every run (each event's `stage` names the run). */
  reporter?: StageReporter;
  backend?: ManifestBackend | Readonly<{ name: string }>;
  /** Called before each run starts (index, count, what). */
  onRun?: (index: number, count: number, run: { run: string; topN: number | null; stageDir: string }) => void;
}

interface Planned {
  run: 'circuit-tuning' | 'full';
  topN: number | null;
  definition: AnyStageDefinition;
  stageDir: string;
  inputs: Record<string, string>;
  config: Record<string, unknown>;
}

/** The run directory name of a grid point. */
export const tuningRunName = (topN: number | null): string => (topN === null ? 'full' : `circuit-tuning-top-${topN}`);

/**
 * Plans the runs of a tuning curve: one `train:circuit-tuning` per top-N (the same settings and
 * seed, only top-N differs) and one `train:full`. Every config is checked here, before any run
 * starts, so a bad setting fails in seconds rather than after the first training run.
 */
export function planTuningRuns(runsDir: string, inputs: TuningRunInputs, config: TuningCurveConfig): Planned[] {
  const common = { train: inputs.train, ...(inputs.dev === undefined ? {} : { dev: inputs.dev }) };
  const planned: Planned[] = config.topN.map((n) => ({
    run: 'circuit-tuning',
    topN: n,
    definition: circuitTuningStage as unknown as AnyStageDefinition,
    stageDir: join(runsDir, tuningRunName(n)),
    inputs: { model: inputs.model, prompts: inputs.prompts, ...common },
    config: { ...config.training, topN: { start: n } },
  }));
  if (config.includeFull) {
    const shared = Object.fromEntries(Object.entries(config.training).filter(([key]) => fullTrainingKeys().includes(key)));
    planned.push({
      run: 'full',
      topN: null,
      definition: fullTrainingStage as unknown as AnyStageDefinition,
      stageDir: join(runsDir, tuningRunName(null)),
      inputs: { model: inputs.model, ...common },
      config: { ...shared, init: { kind: 'pretrained' }, ...config.full },
    });
  }
  for (const p of planned) {
    try {
      parseStageConfig(stageId(p.definition), p.definition.config, p.config);
    } catch (error) {
      if (error instanceof ConfigError) {
        throw new ConfigError(`tuning-curve run '${tuningRunName(p.topN)}': ${error.message}`, { hint: error.hint ?? 'check `training` and `full` in the config', cause: error });
      }
      throw error;
    }
  }
  return planned;
}

/**
 * Launches (or reuses) every run of a tuning curve, one after the other, each through `runStage`
 * in its own directory with its own manifest. A finished run whose config, seed and inputs are
 * unchanged is reused; a killed one resumes from its checkpoints when launched again.
 */
export async function launchTuningRuns(options: LaunchTuningRunsOptions): Promise<TuningRun[]> {
  const planned = planTuningRuns(options.runsDir, options.inputs, options.config);
  const runs: TuningRun[] = [];
  for (const [index, p] of planned.entries()) {
    options.signal?.throwIfAborted();
    options.onRun?.(index, planned.length, { run: p.run, topN: p.topN, stageDir: p.stageDir });
    const result = await runStage(p.definition, {
      stageDir: p.stageDir,
      inputs: p.inputs,
      config: p.config,
      seed: options.seed,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.reporter === undefined ? {} : { reporter: named(options.reporter, tuningRunName(p.topN)) }),
      ...(options.backend === undefined ? {} : { backend: options.backend }),
    });
    runs.push({ run: p.run, topN: p.topN, stageDir: p.stageDir, outputs: result.outputs, manifest: result.manifest, cached: result.cached });
  }
  return runs;
}

/** Events of a run, with the run's name after the stage id (every grid run is train:circuit-tuning). */
function named(reporter: StageReporter, name: string): StageReporter {
  return (event) => reporter({ ...event, stage: `${event.stage} ${name}` });
}
