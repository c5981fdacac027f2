import { copyFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError, TextsTable, TrainLogTable } from '@circuit-tuning/contracts';
import { type ParameterSource, saveModel, type TransformerModel } from '@circuit-tuning/model';
import type { ProgressHandle, StageLogger, tf } from '@circuit-tuning/runtime';
import { z } from 'zod';
import type { TokenBatch } from '../data/batches';
import { readTexts, textDataset } from '../data/texts';
import { runTraining } from '../loop/run-training';
import { DEFAULT_SEQ_LEN, TrainConfig } from '../loop/train-config';
import type { LogRow, PlanState, StepPlan } from '../loop/train-loop';

/** Ports every training variant shares: a model and texts in; a model and its log out. */
export const trainingInputs = {
  model: { kind: 'model-dir' },
  train: { kind: 'arrow', schema: TextsTable },
  dev: { kind: 'arrow', schema: TextsTable, optional: true },
} as const;

export const trainingOutputs = {
  model: { kind: 'model-dir' },
  train_log: { kind: 'arrow', schema: TrainLogTable },
} as const;

/** Settings every variant shares on top of TrainConfig. */
export const VariantConfig = TrainConfig.extend({
  /** 'padded': one text per sequence, right-padded; 'packed': windows of seqLen tokens over the concatenated texts. */
  packing: z
    .enum(['packed', 'padded'])
    .default('padded')
    .describe("'padded': one text per sequence, right-padded to seqLen; 'packed': seqLen-token windows of the concatenated texts"),
  /** Which split of the train table to train on. */
  split: z.string().default('train').describe('which split of the train table to train on'),
});
export type VariantConfig = z.output<typeof VariantConfig>;

interface TrainingContext {
  config: VariantConfig;
  inputs: { train: string; dev?: string | undefined };
  seed: number;
  producer: string;
  logger: StageLogger;
  signal: AbortSignal;
  output(port: 'model' | 'train_log'): string;
  progress(label: string, total?: number): ProgressHandle;
}

/**
 * The body every training variant runs once it has its model and its step plan: build the
 * datasets, train (resumably, checkpoints beside the outputs), save the model and the log.
 */
export async function trainAndSave(
  ctx: TrainingContext,
  model: TransformerModel,
  options: {
    plan?: (batch: TokenBatch, step: number) => StepPlan | Promise<StepPlan>;
    planState?: PlanState;
    extraVariables?: ReadonlyMap<string, tf.Variable>;
    evalWeights?: ParameterSource;
    identity?: unknown;
    /** Runs after training and before saving (LoRA merges its adapters here). */
    beforeSave?: () => void;
  } = {},
): Promise<{ summary: Record<string, unknown>; log: LogRow[] }> {
  const { config } = ctx;
  const tokenizer = model.tokenizer;
  const separatorId = tokenizer?.eosTokenId ?? model.config.eosTokenId ?? 0;
  const { maxPositions } = model.config;
  if (config.seqLen !== undefined && config.seqLen > maxPositions) {
    throw new ConfigError(`seqLen ${config.seqLen} is longer than the model's ${maxPositions} positions`, { hint: `set seqLen to ${maxPositions} or less (or leave it out: the default fits the model)` });
  }
  const datasetOptions = {
    packing: config.packing,
    seqLen: config.seqLen ?? Math.min(DEFAULT_SEQ_LEN, maxPositions),
    separatorId,
    padId: tokenizer?.padTokenId ?? separatorId,
    ...(config.targetWeight === undefined ? {} : { targetWeight: config.targetWeight }),
  };
  const train = textDataset(await readTexts(ctx.inputs.train, config.split), datasetOptions);
  const dev = ctx.inputs.dev ? textDataset(await readTexts(ctx.inputs.dev, 'dev'), datasetOptions) : undefined;
  ctx.logger.info('training', { sequences: train.size, seq: train.seq, parameters: model.params.count(), steps: config.steps });
  const stageDir = dirname(ctx.output('train_log'));
  const runDir = join(stageDir, 'run');
  const { log, resumedFrom } = await runTraining({
    model,
    train,
    ...(dev && dev.size > 0 ? { dev } : {}),
    config,
    seed: ctx.seed,
    runDir,
    producer: ctx.producer,
    ...(options.plan ? { plan: options.plan } : {}),
    ...(options.planState ? { planState: options.planState } : {}),
    ...(options.extraVariables ? { extraVariables: options.extraVariables } : {}),
    ...(options.evalWeights ? { evalWeights: options.evalWeights } : {}),
    identity: options.identity ?? null,
    logger: ctx.logger,
    progress: ctx.progress('steps', config.steps),
    signal: ctx.signal,
  });
  options.beforeSave?.();
  await saveModel(model, ctx.output('model'));
  await copyFile(join(runDir, 'log.arrow'), ctx.output('train_log'));
  const last = log.at(-1);
  return {
    log,
    summary: {
      steps: log.length,
      resumedFrom,
      finalLoss: last?.loss ?? null,
      evalLoss: last?.eval_loss ?? null,
      tokens: last?.tokens ?? 0,
      trainableParameters: last?.trainable_parameters ?? null,
    },
  };
}
