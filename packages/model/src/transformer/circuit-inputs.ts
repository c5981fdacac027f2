import { ContractError, type ModelGraph } from '@circuit-tuning/contracts';
import { matMul, tf } from '@circuit-tuning/runtime';
import type { ModelConfig } from '../config/model-config';
import type { CircuitRun } from './forward';
import { addUnsaved, reshapeUnsaved } from './layers';
import { attentionReaderIndices } from './node-tensors';

type GradFunc = Parameters<typeof tf.customGrad>[0];

/** A group of writers produced together (the input, one layer's heads, one MLP). */
interface WriterGroup {
  firstWriter: number;
  count: number;
  /** [count, tokens · dModel]: clean output minus ablated output, until it joins the stack. */
  delta: tf.Tensor2D | undefined;
  /** Its first row in the stacked deltas once it has joined them (at the end of its layer). */
  row: number | undefined;
  /** [1]: what the readers take as input in the delta's place, so that the tape links them (see `register`). */
  token: tf.Tensor1D;
  /** During a backward pass: Σ over the readers processed so far of ∂L/∂delta, [count, tokens · dModel]. */
  pending?: tf.Tensor2D;
}

export type CircuitReaderKind = 'attention' | 'mlp' | 'logits';

/**
 * The edge-masked forward's reader inputs (docs/method.md §2.4):
 *   x_v = Σ_u ablated(a_u) + Σ_u keep(u→v) · (a_u − ablated(a_u))  (+ the biases no node owns),
 * kept as a running base Σ_u ablated(a_u) [tokens, dModel] and one clean − ablated delta per writer.
 *
 * Memory is linear in layers and tokens, with or without a gradient tape:
 * - forward: what stays alive across layers is the deltas (one [tokens, dModel] row per writer,
 *   1 + L·(H + 1) in all, 1 + L·(H + K) with K MLP heads), stacked once per layer into one [writers, tokens·dModel] matrix, and the
 *   base. A layer's attention readers take one product of their [readers × writers] keep mask with
 *   the stack; its MLP reader adds the layer's heads, not yet stacked. (One product per writer
 *   group added to a running total kept 2·L products of [3H, tokens·dModel] per layer alive until
 *   the pass ended: GPT-2 small at 90 tokens reached ~4 GB.)
 * - backward: tfjs keeps every gradient piece of a backward pass until the pass ends, and a delta
 *   read by the readers of every later layer would get one piece from each: Σ_layers writers
 *   upstream, quadratic. So readers do not take the deltas as inputs: each delta is registered
 *   once (`register`), readers take its one-element token, and their gradient adds
 *   keepᵀ · ∂L/∂x into the group's `pending` sum, which the registering op hands back as the
 *   delta's one gradient (the tape runs backwards, so every reader of a group is done before the
 *   op that registered it).
 *
 * Ownership: the state this object makes (base, deltas, stack, tokens) belongs to the enclosing
 * tf.tidy scope; the forward pass returns `tensors()` from each layer's tidy so that it outlives
 * that layer, and a base or stack that is replaced is freed at once (`release`). Everything left
 * goes with the forward pass's own tidy.
 */
export class CircuitInputs {
  private readonly groups: WriterGroup[] = [];
  /** The deltas of the groups with a `row`, in order: [writers, tokens · dModel]. */
  private stacked: tf.Tensor2D | undefined;
  /** Σ of ablated writer outputs so far, plus unowned biases: [tokens, dModel]. */
  private base: tf.Tensor2D;
  /** Tensors made since the last `tensors()` call (the forward pass moves them out of a layer's tidy). */
  private fresh: tf.Tensor[] = [];

  constructor(
    private readonly config: ModelConfig,
    private readonly circuit: CircuitRun,
    input: tf.Tensor2D, // [tokens, dModel]
  ) {
    const { graph, ablated } = circuit;
    if (graph.includeInputAndLogits) {
      this.base = this.track(tf.add(tf.zerosLike(input), ablated.input) as tf.Tensor2D);
      this.pushGroup(0, 1, input, ablated.input);
    } else {
      // Without an input node the embedding is part of every reader's input, like a bias (a clone,
      // so that freeing a replaced base never frees the caller's input).
      this.base = this.track(tf.clone(input));
    }
  }

  private get graph(): ModelGraph {
    return this.circuit.graph;
  }

  private track<T extends tf.Tensor>(t: T): T {
    this.fresh.push(t);
    return t;
  }

  /** The tensors made since the last call, to return from a tf.tidy so that they survive it. */
  tensors(): tf.Tensor[] {
    const out = this.fresh;
    this.fresh = [];
    return out;
  }

  /** Frees a tensor this object made (nothing else holds it: the ops that read it saved nothing). */
  private release(t: tf.Tensor): void {
    this.fresh = this.fresh.filter((f) => f !== t);
    t.dispose();
  }

  /** Replaces the base by base + added. */
  private addToBase(added: tf.Tensor): void {
    const next = this.track(addUnsaved(this.base, added) as tf.Tensor2D);
    this.release(this.base);
    this.base = next;
  }

  /** Moves the loose deltas into the stack: one copy per layer, read by the next layer's readers. */
  private stack(): void {
    const loose = this.groups.filter((g) => g.delta !== undefined);
    if (loose.length === 0) return;
    let row = this.stacked?.shape[0] ?? 0;
    const parts = [...(this.stacked ? [this.stacked] : []), ...loose.map((g) => g.delta!)];
    const next = this.track(concatUnsaved(parts));
    for (const part of parts) this.release(part);
    for (const g of loose) {
      g.row = row;
      g.delta = undefined;
      row += g.count;
    }
    this.stacked = next;
  }

  /** Records a writer group: its ablated output joins the base, its delta is kept. */
  private pushGroup(firstWriter: number, count: number, clean: tf.Tensor, ablated: tf.Tensor): void {
    const delta = this.track(reshapeUnsaved(minusConstant(clean, ablated), [count, -1]) as tf.Tensor2D); // [count, tokens·dModel]
    const group: WriterGroup = { firstWriter, count, delta, row: undefined, token: undefined as unknown as tf.Tensor1D };
    group.token = this.track(register(group));
    this.groups.push(group);
  }

  /** Adds one layer's heads [nHeads, tokens, dModel] (their shared b_O joins the base: no node owns it). */
  addHeads(layer: number, heads: tf.Tensor3D, bO: tf.Tensor | undefined): void {
    const ablatedHeads = this.circuit.ablated.heads[layer];
    if (!ablatedHeads) throw new ContractError(`no ablation values for the heads of layer ${layer}`);
    const ablatedSum = tf.sum(ablatedHeads, 0); // [tokens | 1, dModel]: the base broadcasts it
    this.addToBase(bO ? tf.add(ablatedSum, bO) : ablatedSum);
    this.pushGroup(this.graph.firstHeadWriter[layer]!, this.config.nHeads, heads, ablatedHeads);
  }

  /**
   * Adds one layer's MLP heads [K, tokens, dModel] (a graph with MLP heads, docs/method.md §1): each
   * head's output without b_out, which no node owns and so joins the base with their ablations.
   */
  addMlpHeads(layer: number, heads: tf.Tensor3D, bOut: tf.Tensor | undefined): void {
    const ablatedHeads = this.circuit.ablated.mlpHeads?.[layer];
    if (!ablatedHeads) throw new ContractError(`no ablation values for the MLP heads of layer ${layer} (a graph with MLP heads needs WriterOutputs.mlpHeads)`);
    const ablatedSum = tf.sum(ablatedHeads, 0); // [tokens | 1, dModel]
    this.addToBase(bOut ? tf.add(ablatedSum, bOut) : ablatedSum);
    this.pushGroup(this.graph.mlpWriter[layer]!, heads.shape[0], heads, ablatedHeads);
    this.stack();
  }

  /** Adds one layer's MLP output [tokens, dModel]. */
  addMlp(layer: number, out: tf.Tensor2D): void {
    const ablatedMlp = this.circuit.ablated.mlps[layer];
    if (!ablatedMlp) throw new ContractError(`no ablation values for the MLP of layer ${layer}`);
    this.addToBase(ablatedMlp);
    this.pushGroup(this.graph.mlpWriter[layer]!, 1, out, ablatedMlp);
    this.stack();
  }

  /**
   * Inputs of the readers of one layer: base + keep[readers, writers] · deltas.
   * Returns [3·nHeads, tokens, dModel] for attention (ReaderProbes order; [nHeads + 2·nKvHeads, …]
   * in a graph with kv groups), [K, tokens, dModel] for the K MLP heads of a graph with MLP heads,
   * else [tokens, dModel].
   */
  readerInputs(layer: number, kind: CircuitReaderKind): tf.Tensor {
    const { graph, circuit, config } = this;
    const tokens = this.base.shape[0];
    const readers = this.readerIndices(layer, kind);
    const rows = readers?.length ?? 1;
    // keep[r, w] of one group's writers; without a logits reader (the reference graph) the final
    // residual keeps every writer's (masked-input) output. A group no reader keeps is left out.
    const blocks: { group: WriterGroup; keep: Float32Array }[] = [];
    for (const group of this.groups) {
      if (readers && group.firstWriter >= graph.upstreamCount[readers[0]!]!) continue;
      const keep = new Float32Array(rows * group.count).fill(1);
      readers?.forEach((reader, row) => {
        const offset = graph.edgeOffset[reader]! + group.firstWriter;
        for (let w = 0; w < group.count; w++) keep[row * group.count + w] = circuit.keep[offset + w]!;
      });
      if (keep.some((k) => k !== 0)) blocks.push({ group, keep });
    }
    // The products to sum: the stack under a [rows, stacked writers] mask (zero for the groups
    // left out), and each kept group not yet stacked (the MLP reader's own layer's heads).
    const chunks: Chunk[] = [];
    if (this.stacked && blocks.some((b) => b.group.row !== undefined)) {
      const columns = this.stacked.shape[0];
      const mask = new Float32Array(rows * columns);
      for (const { group, keep } of blocks) {
        if (group.row === undefined) continue;
        for (let r = 0; r < rows; r++) mask.set(keep.subarray(r * group.count, (r + 1) * group.count), r * columns + group.row);
      }
      chunks.push({ deltas: this.stacked, mask });
    }
    for (const { group, keep } of blocks) if (group.delta) chunks.push({ deltas: group.delta, mask: keep });
    // Nothing kept (or, in the reference graph's first layer, nothing upstream): the base alone.
    const kept = blocks.length === 0 ? tf.zeros([rows, tokens * config.dModel]) : maskedSum(rows, chunks, blocks); // [rows, tokens·dModel]
    const inputs = addUnsaved(reshapeUnsaved(kept, [rows, tokens, config.dModel]), this.base); // [rows, tokens, dModel]
    return rows > 1 || kind === 'attention' ? inputs : reshapeUnsaved(inputs, [tokens, config.dModel]);
  }

  /** Graph reader indices of one layer's readers, in the tensor's order; undefined for the reference graph's final residual. */
  private readerIndices(layer: number, kind: CircuitReaderKind): number[] | undefined {
    const { graph } = this;
    if (kind === 'mlp') {
      // MLP heads are consecutive readers m2.n0 … m2.n(K-1).
      const heads = graph.shape.mlpHeads;
      if (heads === undefined) return [graph.readerIndex(`m${layer}`)];
      const first = graph.readerIndex(`m${layer}.n0`);
      return Array.from({ length: heads }, (_, j) => first + j);
    }
    if (kind === 'logits') return graph.includeInputAndLogits ? [graph.readerIndex('logits')] : undefined;
    return attentionReaderIndices(graph, layer);
  }
}

/**
 * clean − ablated, ablated a constant broadcast to clean's shape. tf.sub would keep both inputs on
 * a tape (for their shapes), and clean + (−ablated) cost a Neg and an Add per writer group (0.4 s
 * of a 4 s GPT-2-small masked forward); the gradient is dy itself.
 */
function minusConstant(clean: tf.Tensor, ablated: tf.Tensor): tf.Tensor {
  const op = tf.customGrad(((x: tf.Tensor) => ({ value: tf.sub(x, ablated), gradFunc: (dy: tf.Tensor) => dy })) as GradFunc) as (x: tf.Tensor) => tf.Tensor;
  return op(clean);
}

/**
 * The op that stands for a delta on the tape: its value is a [1] zero that readers take as input;
 * its gradient is the group's `pending` sum, complete by the time the tape reaches it.
 */
function register(group: WriterGroup): tf.Tensor1D {
  const op = tf.customGrad(((delta: tf.Tensor) => ({
    value: tf.zeros([1]),
    gradFunc: () => {
      const grad = group.pending ?? tf.zerosLike(delta);
      group.pending = undefined;
      return grad;
    },
  })) as GradFunc) as (delta: tf.Tensor) => tf.Tensor1D;
  return op(group.delta!);
}

/**
 * Rows of tensors [k_i, n] stacked into [Σ k_i, n] under a gradient that saves nothing: on a tape,
 * tf.concat keeps every input, and a stack per layer would then keep Σ_layers writers rows
 * (quadratic). Nothing differentiates through the stack: readers reach the deltas through their
 * tokens, so the gradient here is never asked for.
 */
function concatUnsaved(parts: tf.Tensor2D[]): tf.Tensor2D {
  const op = tf.customGrad(((...inputs: tf.Tensor[]) => {
    const xs = inputs.slice(0, parts.length);
    return { value: tf.concat(xs, 0), gradFunc: () => xs.map((x) => tf.zerosLike(x)) };
  }) as GradFunc) as (...xs: tf.Tensor[]) => tf.Tensor;
  return op(...parts) as tf.Tensor2D;
}

/** Deltas [writers, n] and the keep mask [rows, writers] they are multiplied by. */
interface Chunk {
  deltas: tf.Tensor2D;
  mask: Float32Array;
}

/**
 * Σ_blocks keep_b [rows, count_b] · delta_b [count_b, n] → [rows, n], computed as Σ over chunks of
 * mask · deltas (the stack, and loose deltas). Its inputs are the kept groups' tokens (see
 * `register`); its gradient adds keep_bᵀ · dy to each group's pending sum and saves nothing.
 */
function maskedSum(rows: number, chunks: Chunk[], blocks: { group: WriterGroup; keep: Float32Array }[]): tf.Tensor2D {
  const counts = blocks.map((b) => b.group.count);
  const writers = counts.reduce((a, b) => a + b, 0);
  const op = tf.customGrad(((..._tokens: tf.Tensor[]) => {
    let value: tf.Tensor | undefined;
    for (const { deltas, mask } of chunks) {
      const product = matMul(tf.tensor2d(mask, [rows, deltas.shape[0]]), deltas); // [rows, n]
      value = value === undefined ? product : tf.add(value, product);
    }
    const mask = new Float32Array(rows * writers); // [rows, W] of the kept groups, side by side
    let column = 0;
    for (const { group, keep } of blocks) {
      for (let r = 0; r < rows; r++) mask.set(keep.subarray(r * group.count, (r + 1) * group.count), r * writers + column);
      column += group.count;
    }
    return {
      value: value!,
      gradFunc: (dy: tf.Tensor) => {
        const pieces = tf.tidy(() => {
          const transposed = new Float32Array(writers * rows); // maskᵀ [W, rows]
          for (let r = 0; r < rows; r++) for (let w = 0; w < writers; w++) transposed[w * rows + r] = mask[r * writers + w]!;
          const grad = matMul(tf.tensor2d(transposed, [writers, rows]), dy as tf.Tensor2D); // [W, n]
          return counts.length === 1 ? [grad] : tf.split(grad, counts, 0);
        }) as tf.Tensor2D[];
        blocks.forEach(({ group }, i) => {
          const piece = pieces[i]!;
          if (!group.pending) {
            group.pending = piece;
            return;
          }
          const sum = tf.add(group.pending, piece) as tf.Tensor2D;
          group.pending.dispose();
          piece.dispose();
          group.pending = sum;
        });
        return blocks.map(() => tf.zeros([1]));
      },
    };
  }) as GradFunc) as (...tokens: tf.Tensor[]) => tf.Tensor;
  return op(...blocks.map((b) => b.group.token)) as tf.Tensor2D;
}
