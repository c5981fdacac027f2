import { RuntimeError } from '@circuit-tuning/contracts';
import type { TransformerModel } from '@circuit-tuning/model';
import { type ProgressHandle, type StageLogger, tf } from '@circuit-tuning/runtime';
import type { SequenceDataset, TokenBatch } from '../data/batches';
import type { Optimizer, ParameterUpdate } from '../optim/index';
import { listCheckpoints, readTrainerState, restoreCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint';
import type { Objective } from './debias';
import { clipFactor, nextTokenLoss } from './loss';
import { learningRateAt, type ScheduleConfig } from './schedule';

/** What one step trains: which parameters (with optional masks) and with what loss. */
export interface StepPlan {
  /**
   * What trains: canonical parameter names (or, with `variable`, any variable such as a LoRA
   * adapter) and, for circuit-tuning, 0/1 masks of the entries allowed to change.
   */
  trainable: { name: string; variable?: tf.Variable; mask?: tf.Tensor }[];
  /** The loss to minimise; default: the run's objective on the plain forward's logits. */
  loss?: (ids: tf.Tensor2D, weights: tf.Tensor2D, objective: Objective) => tf.Scalar;
  /** Extra columns for this step's log row (metric, circuit size). */
  log?: Record<string, number>;
  /** Exact number of entries this step may change (default: all entries of the trainable tensors). */
  trainableCount?: number;
  /** Tensors the plan created for this step (masks); the loop disposes them after the update. */
  dispose?: tf.Tensor[];
}

export interface TrainLoopOptions {
  model: TransformerModel;
  optimizer: Optimizer;
  dataset: SequenceDataset;
  batchSize: number;
  steps: number;
  learningRate: number;
  schedule: ScheduleConfig;
  clipNorm?: number;
  /** The loss on a batch's logits (default: next-token NLL; de-biasing adds a pronoun term). */
  objective?: Objective;
  seed: number;
  /** Where checkpoints live; a run finding a checkpoint here resumes from it. */
  runDir: string;
  checkpointEvery: number;
  keepCheckpoints?: number;
  /** Identifies the configuration: a checkpoint of another configuration is never resumed. */
  configHash: string;
  plan?: (batch: TokenBatch, step: number) => StepPlan | Promise<StepPlan>;
  /** Variables outside the model that training changes (adapters); checkpointed with it. */
  extraVariables?: ReadonlyMap<string, tf.Variable>;
  evaluate?: (step: number) => Promise<Record<string, number>>;
  evalEvery?: number;
  progress?: ProgressHandle;
  logger?: StageLogger;
  signal?: AbortSignal;
}

export type LogRow = Record<string, number | null>;

/**
 * The training loop shared by every training variant: batches in a seeded order, a loss, masked
 * updates, clipping, a schedule, checkpoints, and resume. A step whose loss is NaN or infinite
 * stops the run with an error before anything is updated; the last checkpoint stays as it was.
 */
export async function trainLoop(options: TrainLoopOptions): Promise<{ log: LogRow[]; resumedFrom: number }> {
  const { model, optimizer, dataset, batchSize, steps, runDir, configHash } = options;
  let state: TrainerState = { step: 0, configHash, log: [] };
  const latest = (await listCheckpoints(runDir)).at(-1);
  if (latest) {
    // Check that the checkpoint is this run's before touching the model or the optimizer.
    const saved = await readTrainerState(latest.dir);
    if (saved.configHash !== configHash) {
      throw new RuntimeError(`${latest.dir} was written by a different training configuration`, {
        hint: 'use a new output directory, or remove the old checkpoints to start over',
      });
    }
    state = await restoreCheckpoint(latest.dir, model, optimizer, options.extraVariables);
    options.logger?.info('resumed', { step: state.step, from: latest.dir });
  }
  const resumedFrom = state.step;
  const allNames = model.params.names();
  const defaultPlan: StepPlan = { trainable: allNames.map((name) => ({ name })) };
  const objective = options.objective ?? nextTokenLoss;
  let tokensSeen = state.log.length > 0 ? Number(state.log.at(-1)!.tokens) : 0;

  for (let step = state.step; step < steps; step++) {
    if (options.signal?.aborted) throw options.signal.reason;
    const started = performance.now();
    const batch = dataset.batchAt(step, batchSize, options.seed);
    const plan = options.plan ? await options.plan(batch, step) : defaultPlan;
    const learningRate = learningRateAt(step, steps, options.learningRate, options.schedule);
    const ids = tf.tensor2d(batch.ids, [batch.batch, batch.seq], 'int32');
    const weights = tf.tensor2d(batch.weights, [batch.batch, batch.seq]);
    const variables = plan.trainable.map((t) => t.variable ?? model.params.get(t.name));
    const lossFn = (x: tf.Tensor2D, w: tf.Tensor2D) => (plan.loss ? plan.loss(x, w, objective) : objective(model.logits(x), x, w));
    // A circuit can own no parameters (a tiny top-N pruned to input→logits): the step then
    // measures the loss and updates nothing.
    const { value, grads } =
      variables.length > 0
        ? tf.variableGrads(() => lossFn(ids, weights), variables)
        : { value: tf.tidy(() => lossFn(ids, weights)), grads: {} as Record<string, tf.Tensor> };
    const gradList = variables.map((v) => grads[v.name]!);
    const { norm, factor } = clipFactor(gradList, options.clipNorm);
    const [lossValue, normValue] = [(await value.data())[0]!, (await norm.data())[0]!];
    if (!Number.isFinite(lossValue) || !Number.isFinite(normValue)) {
      tf.dispose([ids, weights, value, norm, factor, ...gradList, ...(plan.dispose ?? [])]);
      throw new RuntimeError(`training diverged at step ${step}: loss ${lossValue}, gradient norm ${normValue}`, {
        hint: `the last good checkpoint is kept in ${runDir}; lower the learning rate or enable clipping`,
      });
    }
    const updates: ParameterUpdate[] = plan.trainable.map((t, i) => ({
      name: t.name,
      variable: variables[i]!,
      grad: tf.mul(gradList[i]!, factor),
      ...(t.mask ? { mask: t.mask } : {}),
    }));
    optimizer.apply(updates, learningRate);
    tf.dispose([ids, weights, value, norm, factor, ...gradList, ...updates.map((u) => u.grad), ...(plan.dispose ?? [])]);

    tokensSeen += batch.weights.reduce((a, w) => a + (w > 0 ? 1 : 0), 0);
    const row: LogRow = {
      step,
      loss: lossValue,
      learning_rate: learningRate,
      grad_norm: normValue,
      tokens: tokensSeen,
      step_ms: performance.now() - started,
      trainable_parameters: plan.trainableCount ?? variables.reduce((a, v) => a + v.size, 0),
      metric: null,
      circuit_edges: null,
      circuit_nodes: null,
      eval_loss: null,
      ...plan.log,
    };
    if (options.evaluate && options.evalEvery && ((step + 1) % options.evalEvery === 0 || step + 1 === steps)) {
      Object.assign(row, await options.evaluate(step));
    }
    state.log.push(row);
    options.progress?.update(step + 1, { loss: Number(lossValue.toFixed(4)), lr: Number(learningRate.toPrecision(3)) });
    const done = step + 1 === steps;
    if ((step + 1) % options.checkpointEvery === 0 || done) {
      state = { ...state, step: step + 1 };
      await saveCheckpoint(runDir, state, model, optimizer, options.keepCheckpoints ?? 2, options.extraVariables);
    }
  }
  options.progress?.done();
  return { log: state.log, resumedFrom };
}
