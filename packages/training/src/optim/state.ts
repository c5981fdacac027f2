import { ContractError } from '@circuit-tuning/contracts';
import { tf } from '@circuit-tuning/runtime';

/** Named per-parameter state tensors (momentum, moments, step counts), created lazily at zero. */
export class SlotState {
  private readonly slots = new Map<string, tf.Variable>();

  get(slot: string, name: string, like: tf.Tensor): tf.Variable {
    const key = `${slot}/${name}`;
    let variable = this.slots.get(key);
    if (!variable) {
      // The variable shares the zeros' data; the zeros tensor itself must go, or its data stays
      // alive after the first assign (a parameter-sized leak per slot: 1.5 GB for GPT-2 small's Adam).
      const zeros = tf.zerosLike(like);
      variable = tf.variable(zeros, false);
      zeros.dispose();
      this.slots.set(key, variable);
    }
    return variable;
  }

  entries(): Map<string, tf.Tensor> {
    return new Map(this.slots);
  }

  load(state: ReadonlyMap<string, { shape: number[]; data: Float32Array }>): void {
    for (const [key, value] of state) {
      const existing = this.slots.get(key);
      if (existing) {
        if (existing.shape.join() !== value.shape.join()) throw new ContractError(`optimizer state ${key} has shape [${value.shape}], expected [${existing.shape}]`);
        const loaded = tf.tensor(value.data, value.shape);
        existing.assign(loaded);
        loaded.dispose();
      } else {
        const initial = tf.tensor(value.data, value.shape);
        this.slots.set(key, tf.variable(initial, false));
        initial.dispose();
      }
    }
  }

  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
  }
}
