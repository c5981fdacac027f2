import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { adam, sgd } from './index';

beforeAll(() => ensureBackend());

/** Runs `steps` updates with a constant gradient; the mask freezes the first column. */
function run(make: () => ReturnType<typeof sgd>, steps: number, maskFirstColumnAfter = 0) {
  const optimizer = make();
  const variable = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
  const grad = tf.tensor2d([[0.5, -0.5], [1, 1]]);
  const mask = tf.tensor2d([[0, 1], [0, 1]]);
  const history: number[][][] = [];
  for (let s = 0; s < steps; s++) {
    const masked = s >= maskFirstColumnAfter;
    optimizer.apply([{ name: 'w', variable, grad, ...(masked ? { mask } : {}) }], 0.1);
    history.push(variable.arraySync() as number[][]);
  }
  const state = optimizer.state();
  const result = { history, state: new Map([...state].map(([k, v]) => [k, v.arraySync()])) };
  tf.dispose([variable, grad, mask]);
  optimizer.dispose();
  return result;
}

describe('masked updates: frozen entries get no update of any kind', () => {
  for (const [label, make] of [
    ['sgd with momentum and weight decay', () => sgd({ momentum: 0.9, weightDecay: 0.1 })],
    ['adam with L2 decay', () => adam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1, decoupled: false })],
    ['adamw', () => adam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1, decoupled: true })],
  ] as const) {
    it(`${label}: masked from the start, a frozen entry never moves`, () => {
      const { history } = run(make, 5, 0);
      for (const w of history) {
        expect(w[0]![0]).toBe(1);
        expect(w[1]![0]).toBe(3);
      }
      expect(history.at(-1)![0]![1]).not.toBe(2);
    });

    it(`${label}: frozen after free steps, momentum and decay do not leak into it`, () => {
      const { history } = run(make, 6, 3);
      // Steps 0–2 move column 0 (momentum builds up); steps 3–5 are masked: column 0 stays put.
      expect(history[2]![0]![0]).not.toBe(1);
      for (const w of history.slice(3)) {
        expect(w[0]![0]).toBe(history[2]![0]![0]);
        expect(w[1]![0]).toBe(history[2]![1]![0]);
      }
    });
  }

  it('sgd matches PyTorch semantics on free entries (v ← μv + g + λp; p ← p − lr·v)', () => {
    const { history } = run(() => sgd({ momentum: 0.9, weightDecay: 0 }), 2, 99);
    // step 1: v = g = 0.5 → p = 1 − 0.05; step 2: v = 0.9·0.5 + 0.5 = 0.95 → p = 0.95 − 0.095
    expect(history[0]![0]![0]).toBeCloseTo(0.95, 6);
    expect(history[1]![0]![0]).toBeCloseTo(0.855, 6);
  });

  it('adam takes a first step of size lr·sign(g)', () => {
    const { history } = run(() => adam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false }), 1, 99);
    expect(history[0]![0]![0]).toBeCloseTo(0.9, 5);
    expect(history[0]![0]![1]).toBeCloseTo(2.1, 5);
  });
});

describe('optimizer state', () => {
  it('loads per-entry step counts over a shared one (checkpoints written before counts were shared), and refuses other shapes', () => {
    const variable = tf.variable(tf.ones([2, 3]));
    const grad = tf.ones([2, 3]);
    const optimizer = adam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: true });
    optimizer.apply([{ name: 'w', variable, grad }], 0.1);
    const perEntry = { shape: [2, 3], data: Float32Array.from([3, 3, 3, 2, 2, 2]) };
    optimizer.loadState(new Map([['step/w', perEntry]]));
    expect(Array.from(optimizer.state().get('step/w')?.dataSync() ?? [])).toEqual([3, 3, 3, 2, 2, 2]);
    expect(() => optimizer.loadState(new Map([['exp_avg/w', { shape: [3, 2], data: new Float32Array(6) }]]))).toThrow(/has shape \[3,2\], expected \[2,3\]/);
    optimizer.apply([{ name: 'w', variable, grad }], 0.1); // per-entry counts step on without a mask
    expect(Array.from(optimizer.state().get('step/w')?.dataSync() ?? [])).toEqual([4, 4, 4, 3, 3, 3]);
    optimizer.dispose();
    tf.dispose([variable, grad]);
  });

  it('holds exactly its slots: creating them leaves no stray tensors behind', () => {
    const variable = tf.variable(tf.ones([4, 3]));
    const grad = tf.ones([4, 3]);
    const optimizer = adam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: true });
    const before = tf.memory();
    optimizer.apply([{ name: 'w', variable, grad }], 0.1);
    const after = tf.memory();
    // exp_avg and exp_avg_sq of the variable's size and one shared step count, nothing else.
    expect(after.numTensors - before.numTensors).toBe(3);
    expect(after.numBytes - before.numBytes).toBe(2 * 4 * 12 + 4);
    expect(optimizer.state().get('step/w')?.shape).toEqual([]);
    // A masked step gives every entry its own count, starting from the shared one.
    const mask = tf.tensor2d([[1, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 0]]);
    optimizer.apply([{ name: 'w', variable, grad, mask }], 0.1);
    expect(Array.from(optimizer.state().get('step/w')?.dataSync() ?? [])).toEqual([2, 1, 2, 1, 2, 2, 2, 2, 2, 1, 1, 1]);
    optimizer.dispose();
    tf.dispose([variable, grad, mask]);
  });
});
