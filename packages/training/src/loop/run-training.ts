import { join } from 'node:path';
import type { ParameterSource, TransformerModel } from '@circuit-tuning/model';
import { hashConfig, type ProgressHandle, type StageLogger, type tf } from '@circuit-tuning/runtime';
import type { SequenceDataset, TokenBatch } from '../data/batches';
import { createOptimizer } from '../optim/index';
import { debiasObjective, pronounPairIds } from './debias';
import { evaluationLoss } from './evaluate';
import { writeTrainLog } from './log-table';
import type { TrainConfig } from './train-config';
import { type LogRow, type PlanState, type StepPlan, trainLoop } from './train-loop';

export interface RunTrainingOptions {
  model: TransformerModel;
  train: SequenceDataset;
  dev?: SequenceDataset;
  config: TrainConfig;
  seed: number;
  /** Holds checkpoints/ and log.arrow; rerunning in the same directory resumes. */
  runDir: string;
  producer: string;
  plan?: (batch: TokenBatch, step: number) => StepPlan | Promise<StepPlan>;
  /** The plan's state across steps (checkpointed with the run). */
  planState?: PlanState;
  extraVariables?: ReadonlyMap<string, tf.Variable>;
  /** Where evaluation reads weights from (default the model's own; LoRA passes its adapters). */
  evalWeights?: ParameterSource;
  /** Anything else that identifies the run (e.g. the variant's own settings), for resume safety. */
  identity?: unknown;
  logger?: StageLogger;
  progress?: ProgressHandle;
  signal?: AbortSignal;
}

/** Trains `model` in place with the shared loop and writes the log table; resumable. */
export async function runTraining(options: RunTrainingOptions): Promise<{ log: LogRow[]; resumedFrom: number }> {
  const { model, config, dev } = options;
  const objective = config.debias ? debiasObjective(config.debias.beta, pronounPairIds(config.debias, (t) => model.tokenizer?.tokenToId(t))) : undefined;
  const optimizer = createOptimizer(config.optimizer);
  try {
    const result = await trainLoop({
      model,
      optimizer,
      dataset: options.train,
      settings: config,
      ...(objective ? { objective } : {}),
      seed: options.seed,
      runDir: options.runDir,
      configHash: hashConfig({ config, seed: options.seed, identity: options.identity ?? null }),
      ...(options.plan ? { plan: options.plan } : {}),
      ...(options.planState ? { planState: options.planState } : {}),
      ...(options.extraVariables ? { extraVariables: options.extraVariables } : {}),
      ...(dev
        ? { evaluate: async () => ({ eval_loss: await evaluationLoss(model, dev, config.batchSize, config.evalBatches, options.evalWeights) }) }
        : {}),
      ...(options.progress ? { progress: options.progress } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await writeTrainLog(join(options.runDir, 'log.arrow'), result.log, options.producer);
    return result;
  } finally {
    optimizer.dispose();
  }
}
