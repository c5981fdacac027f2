import { type AdamSettings, fusedAdamStep, tf } from '@circuit-tuning/runtime';
import type { Optimizer, ParameterUpdate } from './optimizer';
import { SlotState } from './state';


/**
 * Adam / AdamW with per-entry step counts, so that bias correction stays right for entries that a
 * mask froze for some steps: a frozen entry's moments, count and value do not change at all. Until
 * a parameter's first masked step its entries share one count (stored as a scalar).
 * Where the backend has the runtime's fused kernel (wasm with the native addon) one native pass
 * does the step; elsewhere the tf ops below, which define the semantics the kernel matches.
 */
export function adam(options: AdamSettings): Optimizer {
  const slots = new SlotState();
  const { beta1, beta2, epsilon, weightDecay, decoupled } = options;
  return {
    kind: decoupled ? 'adamw' : 'adam',
    apply(updates: readonly ParameterUpdate[], learningRate: number) {
      for (const { name, variable, grad, mask } of updates) {
        const m = slots.get('exp_avg', name, variable);
        const v = slots.get('exp_avg_sq', name, variable);
        // One step count for every entry (a scalar) until a mask makes the counts differ: then one
        // per entry, from the shared count. (A parameter-sized count array is 0.5 GB on GPT-2 small.)
        let t = slots.get('step', name, variable, true);
        if (mask !== undefined && t.rank === 0 && variable.rank > 0) {
          t = slots.replace('step', name, tf.tidy(() => tf.add(tf.zerosLike(variable), t)));
        }
        // The fused kernel reads a mask entry by entry: a compact one (a circuit's rows or columns)
        // is expanded for this parameter only.
        const fullMask = mask === undefined || mask.size === variable.size ? mask : tf.broadcastTo(mask, variable.shape);
        const fused = fusedAdamStep(
          { param: variable, grad, m, v, t, ...(fullMask === undefined ? {} : { mask: fullMask }) },
          { learningRate, beta1, beta2, epsilon, weightDecay, decoupled },
        );
        if (fullMask !== mask) fullMask?.dispose();
        if (fused !== undefined) {
          m.assign(fused.m);
          v.assign(fused.v);
          t.assign(fused.t);
          variable.assign(fused.param);
          tf.dispose([fused.param, fused.m, fused.v, fused.t]);
          continue;
        }
        const next = tf.tidy(() => {
          let g = grad;
          if (weightDecay > 0 && !decoupled) g = tf.add(g, tf.mul(variable, weightDecay));
          const keepOld = (old: tf.Tensor, updated: tf.Tensor) => (mask ? tf.add(old, tf.mul(mask, tf.sub(updated, old))) : updated);
          const newM = keepOld(m, tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
          const newV = keepOld(v, tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
          const newT = mask ? tf.add(t, mask) : tf.add(t, 1); // t's shape: shared or per entry
          // Bias corrections 1 − β^t per entry; where t = 0 (never updated) the step is masked out anyway.
          const safeT = tf.maximum(newT, 1);
          const correction1 = tf.sub(1, tf.pow(tf.scalar(beta1), safeT));
          const correction2 = tf.sub(1, tf.pow(tf.scalar(beta2), safeT));
          let step = tf.div(tf.div(newM, correction1), tf.add(tf.sqrt(tf.div(newV, correction2)), epsilon));
          if (weightDecay > 0 && decoupled) step = tf.add(step, tf.mul(variable, weightDecay));
          if (mask) step = tf.mul(step, mask);
          return { newM, newV, newT, value: tf.sub(variable, tf.mul(step, learningRate)) };
        });
        m.assign(next.newM);
        v.assign(next.newV);
        t.assign(next.newT);
        variable.assign(next.value);
        tf.dispose(next);
      }
    },
    state: () => slots.entries(),
    loadState: (state) => slots.load(state),
    dispose: () => slots.dispose(),
  };
}
