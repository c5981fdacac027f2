import { ContractError } from '@circuit-tuning/contracts';
import { tf } from '@circuit-tuning/runtime';

/** Named per-parameter state tensors (momentum, moments, step counts), created lazily at zero. */
export class SlotState {
  private readonly slots = new Map<string, tf.Variable>();

  /** The slot's variable, created at zero with `like`'s shape (or as a scalar, `scalar`). */
  get(slot: string, name: string, like: tf.Tensor, scalar = false): tf.Variable {
    const key = `${slot}/${name}`;
    let variable = this.slots.get(key);
    if (!variable) {
      // The variable shares the zeros' data; the zeros tensor itself must go, or its data stays
      // alive after the first assign (a parameter-sized leak per slot: 1.5 GB for GPT-2 small's Adam).
      variable = this.adopt(key, scalar ? tf.scalar(0) : tf.zerosLike(like));
    }
    return variable;
  }

  /** Replaces a slot's variable with one holding `value` (which it takes over), e.g. of another shape. */
  replace(slot: string, name: string, value: tf.Tensor): tf.Variable {
    const key = `${slot}/${name}`;
    this.slots.get(key)?.dispose();
    return this.adopt(key, value);
  }

  private adopt(key: string, value: tf.Tensor): tf.Variable {
    const variable = tf.variable(value, false);
    value.dispose();
    this.slots.set(key, variable);
    return variable;
  }

  entries(): Map<string, tf.Tensor> {
    return new Map(this.slots);
  }

  load(state: ReadonlyMap<string, { shape: number[]; data: Float32Array }>): void {
    for (const [key, value] of state) {
      const existing = this.slots.get(key);
      // A scalar stands for a state every entry shares (Adam's step count before any mask).
      const scalarEitherSide = existing !== undefined && (existing.rank === 0 || value.shape.length === 0);
      if (existing && existing.shape.join() !== value.shape.join() && !scalarEitherSide) {
        throw new ContractError(`optimizer state ${key} has shape [${value.shape}], expected [${existing.shape}]`);
      }
      if (existing && existing.shape.join() === value.shape.join()) {
        const loaded = tf.tensor(value.data, value.shape);
        existing.assign(loaded);
        loaded.dispose();
      } else {
        existing?.dispose();
        this.adopt(key, tf.tensor(value.data, value.shape));
      }
    }
  }

  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
  }
}
