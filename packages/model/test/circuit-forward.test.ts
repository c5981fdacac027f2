import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CircuitRun, disposeWriters, type ForwardOptions, gpt2Config, loadModel, TransformerModel, type WriterOutputs } from '../src/index';
import { maxAbsDiff, readGolden, tinyGpt2Dir } from './shared-data';

const golden = readGolden(tinyGpt2Dir);
let model: TransformerModel;
beforeAll(async () => {
  await ensureBackend();
  model = await loadModel(tinyGpt2Dir, { tokenizer: 'optional' });
});
afterAll(() => model.dispose());

const ids = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');

/** Writer outputs of a run, kept (the caller disposes them). */
function writersOf(rows: number[][]): WriterOutputs {
  return tf.tidy(() => model.forward(ids(rows), { captureWriters: true }).writers!);
}

describe('edge-masked forward', () => {
  for (const includeInputAndLogits of [true, false]) {
    it(`with every edge kept equals the plain forward (${includeInputAndLogits ? 'full graph' : 'reference graph'})`, () => {
      const graph = model.graph({ includeInputAndLogits });
      const ablated = writersOf(golden.inputs.corrupt);
      const circuit: CircuitRun = { graph, keep: new Float32Array(graph.edgeCount).fill(1), ablated };
      const [plain, masked] = tf.tidy(() => [
        model.logits(ids(golden.inputs.clean)).dataSync(),
        model.forward(ids(golden.inputs.clean), { circuit }).logits.dataSync(),
      ]);
      expect(maxAbsDiff(masked!, plain!)).toBeLessThan(1e-4);
      tf.dispose(ablated);
    });
  }

  it('with every edge ablated equals the corrupted run (full graph)', () => {
    const graph = model.graph();
    const ablated = writersOf(golden.inputs.corrupt);
    const circuit: CircuitRun = { graph, keep: new Float32Array(graph.edgeCount), ablated };
    const [corrupt, empty] = tf.tidy(() => [
      model.logits(ids(golden.inputs.corrupt)).dataSync(),
      model.forward(ids(golden.inputs.clean), { circuit }).logits.dataSync(),
    ]);
    expect(maxAbsDiff(empty!, corrupt!)).toBeLessThan(1e-4);
    tf.dispose(ablated);
  });

  it('removing one edge changes exactly the reader it feeds', () => {
    const graph = model.graph();
    const ablated = writersOf(golden.inputs.corrupt);
    const keepAll = new Float32Array(graph.edgeCount).fill(1);
    const keepAllBut = (edge: string) => {
      const keep = keepAll.slice();
      const [writer, reader] = edge.split('->') as [string, string];
      keep[graph.edgeIndex(writer, reader)] = 0;
      return keep;
    };
    const run = (keep: Float32Array) =>
      tf.tidy(() => model.forward(ids(golden.inputs.clean), { circuit: { graph, keep, ablated }, captureWriters: true }).writers!);
    const base = run(keepAll);
    // a0.h2 → a1.h1<v>: only head a1.h1 of layer 1 changes; everything upstream and its sibling heads stay.
    const cut = run(keepAllBut('a0.h2->a1.h1<v>'));
    const heads1Base = tf.unstack(base.heads[1]!);
    const heads1Cut = tf.unstack(cut.heads[1]!);
    for (let h = 0; h < 4; h++) {
      const diff = maxAbsDiff(heads1Cut[h]!.dataSync(), heads1Base[h]!.dataSync());
      if (h === 1) expect(diff).toBeGreaterThan(1e-6);
      else expect(diff, `a1.h${h}`).toBeLessThan(1e-6);
    }
    expect(maxAbsDiff(cut.heads[0]!.dataSync(), base.heads[0]!.dataSync())).toBeLessThan(1e-6);
    expect(maxAbsDiff(cut.mlps[0]!.dataSync(), base.mlps[0]!.dataSync())).toBeLessThan(1e-6);
    // m0 → logits changes only the logits: every writer output stays.
    const toLogits = run(keepAllBut('m0->logits'));
    expect(maxAbsDiff(toLogits.mlps[1]!.dataSync(), base.mlps[1]!.dataSync())).toBeLessThan(1e-6);
    expect(maxAbsDiff(toLogits.heads[1]!.dataSync(), base.heads[1]!.dataSync())).toBeLessThan(1e-6);
    tf.dispose([base, cut, toLogits, heads1Base, heads1Cut, ablated]);
  });

  it('rejects a mask of the wrong length', () => {
    const graph = model.graph();
    const ablated = writersOf(golden.inputs.corrupt);
    expect(() => model.forward(ids(golden.inputs.clean), { circuit: { graph, keep: new Float32Array(3), ablated } })).toThrow(
      /edge mask has 3 entries, the graph has 110 edges/,
    );
    tf.dispose(ablated);
  });

  it('keeps the tensor count flat across repeated masked runs', () => {
    const graph = model.graph();
    const ablated = writersOf(golden.inputs.corrupt);
    const keep = new Float32Array(graph.edgeCount).fill(1);
    const once = () => {
      const input = ids(golden.inputs.clean);
      tf.dispose(model.forward(input, { circuit: { graph, keep, ablated }, captureWriters: true }));
      input.dispose();
    };
    once();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) once();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(ablated);
  });
});

describe('input embeddings', () => {
  it('given the captured input embedding, the forward equals the plain one', () => {
    const [plain, viaEmbeddings] = tf.tidy(() => {
      const x = ids(golden.inputs.clean);
      const { writers } = model.forward(x, { captureWriters: true });
      return [model.logits(x).dataSync(), model.forward(x, { inputEmbeddings: writers!.input }).logits.dataSync()];
    });
    expect(maxAbsDiff(viaEmbeddings!, plain!)).toBeLessThan(1e-6);
  });
});

describe('edge-masked forward at scale', () => {
  /**
   * A random GPT-2 of `nLayers` layers, a corrupted run for its ablation, and a fixed mask keeping 2
   * edges in 3; with `mlpHeads`, on the graph whose MLPs are split into that many MLP heads.
   */
  async function setup(nLayers: number, rows: number, seq: number, mlpHeads?: number) {
    const config = gpt2Config({ nLayers, nHeads: 4, dModel: 32, vocabSize: 50, maxPositions: 64 });
    const random = await TransformerModel.random(config, 1);
    const graph = random.graph(mlpHeads === undefined ? {} : { mlpHeadWidth: config.dMlp / mlpHeads });
    const tokens = (shift: number) =>
      tf.tensor2d(Array.from({ length: rows * seq }, (_, i) => (i * 7 + shift) % 50), [rows, seq], 'int32');
    const clean = tokens(0);
    const corrupt = tokens(3);
    const ablated = tf.tidy(() => random.forward(corrupt, { captureWriters: true, ...(mlpHeads === undefined ? {} : { mlpHeads }) }).writers!);
    corrupt.dispose();
    const keep = Float32Array.from({ length: graph.edgeCount }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const circuit: CircuitRun = { graph, keep, ablated };
    const dispose = () => {
      random.dispose();
      clean.dispose();
      disposeWriters(ablated);
    };
    return { random, clean, circuit, dispose };
  }

  /** Peak tensor bytes above the start of a masked forward pass, plain and under a gradient tape. */
  async function peakBytes(nLayers: number, rows = 4, seq = 8, mlpHeads?: number): Promise<{ forward: number; backward: number }> {
    const { random, clean, circuit, dispose } = await setup(nLayers, rows, seq, mlpHeads);
    const start = tf.memory().numBytes;
    const forward = await tf.profile(() => tf.tidy(() => tf.sum(random.forward(clean, { circuit }).logits)));
    const forwardPeak = forward.peakBytes - start; // read now: tf.profile reuses its result object
    (forward.result as tf.Tensor).dispose();
    const wQ = random.params.get('blocks.0.attn.W_Q');
    const weights = { get: (name: string) => random.params.get(name), has: (name: string) => random.params.has(name) };
    const loss = (w: tf.Tensor) =>
      tf.sum(random.forward(clean, { circuit }, { ...weights, get: (name) => (name === 'blocks.0.attn.W_Q' ? w : weights.get(name)) }).logits);
    const backward = await tf.profile(() => tf.grad(loss)(wQ));
    const backwardPeak = backward.peakBytes - start;
    (backward.result as tf.Tensor).dispose();
    dispose();
    return { forward: forwardPeak, backward: backwardPeak };
  }

  it('costs tensor memory linear in layers and tokens, with and without a gradient tape', async () => {
    const at2 = await peakBytes(2);
    const at6 = await peakBytes(6);
    const at12 = await peakBytes(12);
    // Linear growth a + b·L (a ≥ 0) gives bytes(12)/bytes(2) ≤ 6; growth with writers × readers
    // (what keeping one product per writer group did) gives about (12/2)² = 36. Measured on the
    // native backend: forward 0.55 / 0.66 / 0.90 MB (before: 1.6 / 7.3 / 22 MB), with the tape
    // 1.45 / 4.4 / 8.9 MB (before: 3.4 / 15.6 / 48.6 MB).
    const summary = JSON.stringify({ at2, at6, at12 });
    expect(at6.forward, summary).toBeGreaterThan(at2.forward);
    expect(at12.forward / at2.forward, summary).toBeLessThan(3);
    expect(at12.backward / at2.backward, summary).toBeLessThan(7);
    // Twice the tokens: at most about twice the bytes.
    const doubled = await peakBytes(12, 8, 8);
    expect(doubled.forward / at12.forward, JSON.stringify({ doubled, at12 })).toBeLessThan(2.2);
    expect(doubled.backward / at12.backward, JSON.stringify({ doubled, at12 })).toBeLessThan(2.2);
  });

  it('with MLP heads: tensor memory still linear in layers, with and without a gradient tape', async () => {
    // K = 8 MLP heads per MLP: 1 + L·(H + K) writer rows; the readers of a layer take one product
    // of their [readers × writers] mask with the stack, as without MLP heads.
    const at2 = await peakBytes(2, 4, 8, 8);
    const at6 = await peakBytes(6, 4, 8, 8);
    const at12 = await peakBytes(12, 4, 8, 8);
    const summary = JSON.stringify({ at2, at6, at12 });
    console.log(`[mlp-heads memory] ${summary}`);
    expect(at6.forward, summary).toBeGreaterThan(at2.forward);
    expect(at12.forward / at2.forward, summary).toBeLessThan(3);
    expect(at12.backward / at2.backward, summary).toBeLessThan(7);
  });

  it('has the gradients of the plain forward with every edge kept, and matches central differences under a mask', async () => {
    const { random, clean, circuit, dispose } = await setup(3, 2, 4);
    // Larger weights than GPT-2's 0.02 init, so that no gradient is too small to check.
    random.params.assign(new Map(random.params.entries().map(([name, v]) => [name, tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', 5)))])));
    const r = tf.randomNormal([2, 4, 50], 0, 1, 'float32', 9);
    const variables = random.params.entries().map(([, v]) => v);
    const gradsOf = (options: ForwardOptions) => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(random.forward(clean, options).logits, r)) as tf.Scalar, variables);
      value.dispose();
      return grads;
    };
    // Under a tape nothing outlives the gradients (the pending sums are handed out or freed).
    const tensorsBefore = tf.memory().numTensors;
    tf.dispose(Object.values(gradsOf({ circuit })));
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    // Also when the earlier writers' deltas are off the path to the one variable asked for.
    const last = random.params.get('blocks.2.attn.W_Q') as tf.Variable;
    const { value, grads: lastOnly } = tf.variableGrads(() => tf.sum(tf.mul(random.forward(clean, { circuit }).logits, r)) as tf.Scalar, [last]);
    tf.dispose([value, ...Object.values(lastOnly)]);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    const plain = gradsOf({});
    const allKept = gradsOf({ circuit: { ...circuit, keep: new Float32Array(circuit.graph.edgeCount).fill(1) } });
    const masked = gradsOf({ circuit });
    for (const v of variables) {
      const scale = Math.max(1, ...Array.from(plain[v.name]!.dataSync(), Math.abs));
      expect(maxAbsDiff(allKept[v.name]!.dataSync(), plain[v.name]!.dataSync()) / scale, v.name).toBeLessThan(1e-4);
    }
    // Central differences on two entries of every parameter under the mask.
    const loss = () => tf.tidy(() => tf.sum(tf.mul(random.forward(clean, { circuit }).logits, r)).dataSync()[0]!);
    let pick = 0;
    for (const [name, variable] of random.params.entries()) {
      const base = variable.dataSync().slice();
      for (let n = 0; n < 2; n++) {
        const i = (pick++ * 7919) % base.length;
        const at = (delta: number) => {
          const changed = base.slice();
          changed[i] = base[i]! + delta;
          variable.assign(tf.tensor(changed, variable.shape));
          return loss();
        };
        const eps = 1e-2;
        const numeric = (at(eps) - at(-eps)) / (2 * eps);
        variable.assign(tf.tensor(base, variable.shape));
        // No gradient: the parameter does not reach the logits through the circuit (m2→logits is cut).
        const analytic = masked[variable.name]?.dataSync()[i] ?? 0;
        expect(Math.abs(analytic - numeric), `${name}[${i}]: analytic ${analytic} vs numeric ${numeric}`).toBeLessThan(2e-2 * Math.max(1, Math.abs(numeric)));
      }
    }
    tf.dispose([r, ...Object.values(plain), ...Object.values(allKept), ...Object.values(masked)]);
    dispose();
  });
});
