import type { tf } from '@circuit-tuning/runtime';

/** One parameter to update: its gradient and, for circuit-tuning, a 0/1 mask of the entries it may change. */
export interface ParameterUpdate {
  name: string;
  variable: tf.Variable;
  grad: tf.Tensor;
  /**
   * 0/1, broadcast to the variable's shape ([rows, 1] or [1, cols] for a circuit's rows or columns);
   * 0 freezes an entry completely. Absent: every entry is free.
   */
  mask?: tf.Tensor;
}

/**
 * Optimizers written here rather than taken from tf.train, for two reasons: a masked entry must
 * get no update of any kind (not from momentum, Adam moments or weight decay — the reference code
 * gets this wrong), and the state must be saved and restored exactly for resumable runs.
 */
export interface Optimizer {
  readonly kind: 'sgd' | 'adam' | 'adamw';
  apply(updates: readonly ParameterUpdate[], learningRate: number): void;
  /** Every state tensor under a stable name (e.g. `exp_avg/blocks.0.attn.W_Q`), for checkpoints. */
  state(): Map<string, tf.Tensor>;
  /** Restores state saved by state(); names not present start from zero. */
  loadState(state: ReadonlyMap<string, { shape: number[]; data: Float32Array }>): void;
  dispose(): void;
}
