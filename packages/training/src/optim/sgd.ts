import { fusedSgdStep, type SgdSettings, tf } from '@circuit-tuning/runtime';
import type { Optimizer, ParameterUpdate } from './optimizer';
import { SlotState } from './state';

/** SGD's settings (declared once, in @circuit-tuning/native, as SgdSettings). */
export type SgdOptions = SgdSettings;

/**
 * SGD with momentum and L2 weight decay, PyTorch semantics (v ← μv + g + λp; p ← p − lr·v), the
 * paper's optimizer. Under a mask, frozen entries keep their momentum buffer unchanged and move
 * by exactly zero. Where the backend has the runtime's fused kernel (native, or wasm with the
 * addon) one native pass does the step; elsewhere the tf ops below, which define the semantics
 * (and the float32 rounding) the kernel matches.
 */
export function sgd(options: SgdOptions): Optimizer {
  const slots = new SlotState();
  return {
    kind: 'sgd',
    apply(updates: readonly ParameterUpdate[], learningRate: number) {
      for (const { name, variable, grad, mask } of updates) {
        const velocity = options.momentum > 0 ? slots.get('momentum_buffer', name, variable) : undefined;
        const fused = fusedSgdStep(
          { param: variable, grad, ...(velocity ? { velocity } : {}), ...(mask ? { mask } : {}) },
          { learningRate, momentum: options.momentum, weightDecay: options.weightDecay },
        );
        if (fused !== undefined) {
          if (velocity && fused.velocity) velocity.assign(fused.velocity);
          variable.assign(fused.param);
          tf.dispose([fused.param, ...(fused.velocity ? [fused.velocity] : [])]);
          continue;
        }
        const [newVelocity, newValue] = tf.tidy(() => {
          let g = grad;
          if (options.weightDecay > 0) g = tf.add(g, tf.mul(variable, options.weightDecay));
          let step = g;
          let v: tf.Tensor | undefined;
          if (velocity) {
            v = tf.add(tf.mul(velocity, options.momentum), g);
            if (mask) v = tf.add(velocity, tf.mul(mask, tf.sub(v, velocity))); // frozen entries: buffer unchanged
            step = v;
          }
          if (mask) step = tf.mul(step, mask);
          return [v, tf.sub(variable, tf.mul(step, learningRate))];
        });
        if (velocity && newVelocity) {
          velocity.assign(newVelocity);
          newVelocity.dispose();
        }
        variable.assign(newValue!);
        newValue!.dispose();
      }
    },
    state: () => slots.entries(),
    loadState: (state) => slots.load(state),
    dispose: () => slots.dispose(),
  };
}
