import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { ArtifactError, RuntimeError } from '@circuit-tuning/contracts';
import type { TransformerModel } from '@circuit-tuning/model';
import { type ProgressHandle, type StageLogger, tf } from '@circuit-tuning/runtime';
import type { SequenceDataset, TokenBatch } from '../data/batches';
import type { Optimizer, ParameterUpdate } from '../optim/index';
import {
  type LogRow,
  listCheckpoints,
  pruneCheckpoints,
  removeCheckpointsFrom,
  restoreCheckpoint,
  saveCheckpoint,
  type TrainerState,
  verifyCheckpoint,
} from './checkpoint';
import type { Objective } from './debias';
import { clipFactor, nextTokenLoss } from './loss';
import { learningRateAt } from './schedule';
import type { DivergenceConfig, TrainConfig } from './train-config';

export type { LogRow } from './checkpoint';

/**
 * Thrown by a step's plan when what it measured on the model before the step is not finite (a
 * circuit-tuning rediscovery's metric or edge scores): the previous update diverged, and the loop
 * reports it as divergence — with the checkpoint to go back to — instead of as whatever the plan
 * would have failed on next (an empty circuit, since NaN scores select nothing).
 */
export class NonFiniteModelError extends Error {}

/** What one step trains: which parameters (with optional masks) and with what loss. */
export interface StepPlan {
  /**
   * What trains: canonical parameter names (or, with `variable`, any variable such as a LoRA
   * adapter) and, for circuit-tuning, 0/1 masks of the entries allowed to change.
   */
  trainable: { name: string; variable?: tf.Variable; mask?: tf.Tensor }[];
  /** The loss to minimise; default: the run's objective on the plain forward's logits. */
  loss?: (ids: tf.Tensor2D, weights: tf.Tensor2D, objective: Objective) => tf.Scalar;
  /** Extra columns for this step's log row (metric, circuit size, what an empty circuit did). */
  log?: Record<string, number | string | null>;
  /** Exact number of entries this step may change (default: all entries of the trainable tensors). */
  trainableCount?: number;
  /** Tensors the plan created for this step (masks); the loop disposes them after the update. */
  dispose?: tf.Tensor[];
}

/** The settings of TrainConfig (./train-config.ts) the loop reads, taken as they are: one source, no copies. */
export type TrainLoopSettings = Pick<TrainConfig, 'batchSize' | 'steps' | 'learningRate' | 'schedule' | 'clipNorm' | 'checkpointEvery' | 'keepCheckpoints' | 'divergence' | 'evalEvery'>;

export interface TrainLoopOptions {
  model: TransformerModel;
  optimizer: Optimizer;
  dataset: SequenceDataset;
  settings: TrainLoopSettings;
  /** The loss on a batch's logits (default: next-token NLL; de-biasing adds a pronoun term). */
  objective?: Objective;
  seed: number;
  /** Where checkpoints live; a run finding a checkpoint here resumes from it. */
  runDir: string;
  /** Identifies the configuration: a checkpoint of another configuration is never resumed. */
  configHash: string;
  plan?: (batch: TokenBatch, step: number) => StepPlan | Promise<StepPlan>;
  /**
   * What the plan carries from step to step (a circuit found at an earlier step): saved in every
   * checkpoint and restored on resume, so a resumed step plans what the uninterrupted one did.
   */
  planState?: PlanState;
  /** Variables outside the model that training changes (adapters); checkpointed with it. */
  extraVariables?: ReadonlyMap<string, tf.Variable>;
  evaluate?: (step: number) => Promise<Record<string, number>>;
  progress?: ProgressHandle;
  logger?: StageLogger;
  signal?: AbortSignal;
}

/** A step plan's state across steps, as plain JSON. */
export interface PlanState {
  save(): unknown;
  restore(state: unknown): void;
}

/**
 * The training loop shared by every training variant: batches in a seeded order, a loss, masked
 * updates, clipping, a schedule, checkpoints, and resume. A step whose loss or gradient norm is not
 * finite, or whose loss is far above the recent median (`divergence`), stops the run with an error
 * before anything is updated, and keeps only the checkpoints written before the divergence began.
 * Resume takes the newest intact checkpoint (a torn one is skipped, and said) and continues
 * exactly: batches, schedule and evaluations depend on the step alone, the rest is in the checkpoint.
 */
export async function trainLoop(options: TrainLoopOptions): Promise<{ log: LogRow[]; resumedFrom: number }> {
  const { model, optimizer, dataset, runDir } = options;
  const { batchSize, steps } = options.settings;
  const keep = options.settings.keepCheckpoints;
  let state: TrainerState = await resume(options);
  const resumedFrom = state.step;
  const allNames = model.params.names();
  const defaultPlan: StepPlan = { trainable: allNames.map((name) => ({ name })) };
  const objective = options.objective ?? nextTokenLoss;
  let tokensSeen = state.log.length > 0 ? Number(state.log.at(-1)!.tokens) : 0;
  // A new checkpoint replaces older ones only once a step from its weights has passed the guard
  // (the one resumed from too: a kill can come between its write and that step).
  let unprovenCheckpoint = resumedFrom > 0;
  for (let step = state.step; step < steps; step++) {
    if (options.signal?.aborted) throw options.signal.reason;
    const started = performance.now();
    const batch = dataset.batchAt(step, batchSize, options.seed);
    let plan: StepPlan;
    try {
      plan = options.plan ? await options.plan(batch, step) : defaultPlan;
    } catch (error) {
      if (error instanceof NonFiniteModelError) throw await divergenceError(runDir, step, error.message);
      throw error;
    }
    const learningRate = learningRateAt(step, steps, options.settings.learningRate, options.settings.schedule);
    const ids = tf.tensor2d(batch.ids, [batch.batch, batch.seq], 'int32');
    const weights = tf.tensor2d(batch.weights, [batch.batch, batch.seq]);
    const variables = plan.trainable.map((t) => t.variable ?? model.params.get(t.name));
    const lossFn = (x: tf.Tensor2D, w: tf.Tensor2D) => (plan.loss ? plan.loss(x, w, objective) : objective(model.logits(x), x, w));
    // A step can have nothing to train (an empty circuit under the skip-step policy): it then
    // measures the loss and updates nothing.
    const { value, grads } =
      variables.length > 0
        ? tf.variableGrads(() => lossFn(ids, weights), variables)
        : { value: tf.tidy(() => lossFn(ids, weights)), grads: {} as Record<string, tf.Tensor> };
    const gradList = variables.map((v) => grads[v.name]!);
    const { norm, factor } = clipFactor(gradList, options.settings.clipNorm, plan.trainable.map((t) => t.mask));
    // One readback per step, which a GPU backend waits for: the loss, the gradient norm and the
    // clip factor together. The divergence guard needs the first two before anything is updated.
    const scalars = tf.tidy(() => tf.stack([value, norm, factor]));
    const [lossValue, normValue, scale] = Array.from(await scalars.data()) as [number, number, number];
    scalars.dispose();
    const diverged = divergence(lossValue, normValue, state.log, options.settings.divergence);
    if (diverged !== undefined) {
      tf.dispose([ids, weights, value, norm, factor, ...gradList, ...(plan.dispose ?? [])]);
      throw await divergenceError(runDir, step, diverged);
    }
    if (unprovenCheckpoint) {
      await pruneCheckpoints(runDir, keep);
      unprovenCheckpoint = false;
    }
    // One parameter at a time, each gradient released as soon as its update is done: scaling every
    // gradient first held a second copy of all of them (3.7 GB on Llama-3.2-1B, issue 13).
    plan.trainable.forEach((t, i) => {
      const raw = gradList[i]!;
      const grad = scale === 1 ? raw : tf.mul(raw, scale);
      const update: ParameterUpdate = { name: t.name, variable: variables[i]!, grad, ...(t.mask ? { mask: t.mask } : {}) };
      optimizer.apply([update], learningRate);
      tf.dispose(grad === raw ? [raw] : [raw, grad]);
    });
    tf.dispose([ids, weights, value, norm, factor, ...(plan.dispose ?? [])]);
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
      empty_circuit: null,
      ...plan.log,
    };
    if (options.evaluate && ((step + 1) % options.settings.evalEvery === 0 || step + 1 === steps)) {
      Object.assign(row, await options.evaluate(step));
    }
    state.log.push(row);
    options.progress?.update(step + 1, { loss: Number(lossValue.toFixed(4)), lr: Number(learningRate.toPrecision(3)) });
    const done = step + 1 === steps;
    if ((step + 1) % options.settings.checkpointEvery === 0 || done) {
      state = { ...state, step: step + 1, ...(options.planState ? { plan: options.planState.save() } : {}) };
      await saveCheckpoint(runDir, state, model, optimizer, options.extraVariables);
      if (done) await pruneCheckpoints(runDir, keep);
      else unprovenCheckpoint = true;
    }
  }
  options.progress?.done();
  return { log: state.log, resumedFrom };
}

/**
 * The state to start from: the newest intact checkpoint of this configuration (model, optimizer,
 * extra variables and plan state restored), or step 0. Torn checkpoints are skipped and removed,
 * and said; they are newer than the one resumed from, so this run writes those steps again.
 */
async function resume(options: TrainLoopOptions): Promise<TrainerState> {
  const { runDir, configHash, logger } = options;
  const damaged: string[] = [];
  let intact: { dir: string; state: TrainerState } | undefined;
  for (const checkpoint of (await listCheckpoints(runDir)).reverse()) {
    try {
      intact = { dir: checkpoint.dir, state: await verifyCheckpoint(checkpoint.dir) };
      break;
    } catch (error) {
      if (!(error instanceof ArtifactError)) throw error;
      logger?.warn(`checkpoint ${basename(checkpoint.dir)} is damaged and is skipped: ${error.message}`);
      damaged.push(checkpoint.dir);
    }
  }
  // Check that the checkpoint is this run's before touching the model, the optimizer or any file.
  if (intact && intact.state.configHash !== configHash) {
    throw new RuntimeError(`${intact.dir} was written by a different training configuration`, {
      hint: 'use a new output directory, or remove the old checkpoints to start over',
    });
  }
  for (const dir of damaged) await rm(dir, { recursive: true, force: true });
  if (!intact) {
    if (damaged.length > 0) logger?.warn('no intact checkpoint: training starts over from step 0');
    return { step: 0, configHash, log: [] };
  }
  const state = await restoreCheckpoint(intact.dir, options.model, options.optimizer, options.extraVariables);
  if (state.plan !== undefined) options.planState?.restore(state.plan);
  logger?.info('resumed', { step: state.step, from: intact.dir, ...(damaged.length > 0 ? { skipped: damaged.map((d) => basename(d)) } : {}) });
  return state;
}

/** Why this step counts as diverged, or undefined. Losses of earlier steps come from the log, so a resumed run judges alike. */
function divergence(loss: number, gradNorm: number, log: readonly LogRow[], config: DivergenceConfig | undefined): string | undefined {
  if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) return `loss ${loss}, gradient norm ${gradNorm}`;
  if (config === undefined || log.length === 0) return undefined;
  const recent = log.slice(-config.window).map((r) => Number(r.loss));
  const median = medianOf(recent);
  if (median > 0 && loss > config.lossFactor * median) {
    return `loss ${loss.toPrecision(4)} is above ${config.lossFactor} × ${median.toPrecision(4)}, the median loss of the ${recent.length} steps before (divergence.lossFactor)`;
  }
  return undefined;
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The weights that gave this step's loss came from the previous update, so a checkpoint of this
 * step (or later) holds diverged weights: those go, and the error names the newest one that stays.
 */
async function divergenceError(runDir: string, step: number, reason: string): Promise<RuntimeError> {
  const removed = await removeCheckpointsFrom(runDir, step);
  const kept = (await listCheckpoints(runDir)).at(-1);
  const advice = 'lower the learning rate, or set clipNorm';
  const removedNote = removed.length > 0 ? ` (removed ${removed.map((d) => basename(d)).join(', ')}, written after the divergence began)` : '';
  return new RuntimeError(`training diverged at step ${step}: ${reason}`, {
    hint: kept
      ? `the last checkpoint before the divergence is kept: ${kept.dir} (step ${kept.step})${removedNote}; ${advice}`
      : `no checkpoint was written before step ${step}${removedNote}; ${advice}`,
  });
}
