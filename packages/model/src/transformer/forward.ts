import type { ModelGraph } from '@circuit-tuning/contracts';
import { ContractError } from '@circuit-tuning/contracts';
import { batchMatMul, embeddingLookup, matMul, tf } from '@circuit-tuning/runtime';
import type { ModelConfig } from '../config/model-config';
import { activate, addUnsaved, applyRotary, attentionCore, causalMask, normalize, permuteUnsaved, type RotaryTables, reshapeUnsaved, rotaryTables } from './layers';
import { CircuitInputs } from './circuit-inputs';
import type { ReaderProbes, WriterOutputs } from './node-tensors';
import { blockPrefix, unembedName } from './parameter-names';
import { unembedProduct } from './unembed';

/**
 * Where the forward pass reads weights from: the model's own parameters, or a view that
 * substitutes some of them (LoRA's W + (α/r)·A·B) while keeping the rest.
 */
export interface ParameterSource {
  get(name: string): tf.Tensor;
  has(name: string): boolean;
}

/**
 * Running a circuit (docs/method.md §2.4): every reader's input becomes
 *   Σ_kept a_u + Σ_not-kept ablated(a_u) (+ the biases no node owns).
 */
export interface CircuitRun {
  graph: ModelGraph;
  /** One value per graph edge, in graph edge order: 1 keeps the edge, 0 ablates it. */
  keep: Float32Array;
  /** What an ablated writer contributes: tensors of the clean outputs' shapes, or broadcastable to them. */
  ablated: WriterOutputs;
}

export interface ForwardOptions {
  /** Return every writer's output (the decomposed forward). */
  captureWriters?: boolean;
  /** Add these to the reader inputs (see ReaderProbes). */
  probes?: ReaderProbes;
  /** Run only a circuit, ablating the edges outside it. */
  circuit?: CircuitRun;
  /**
   * Use these as the `input` writer's output (token + position embedding) instead of looking up
   * ids: [tokens, dModel]. EAP-IG integrates gradients along a path between two such inputs.
   */
  inputEmbeddings?: tf.Tensor2D;
  /**
   * Split every MLP into this many MLP heads (docs/method.md §1): captured writers then include each
   * head's output (`WriterOutputs.mlpHeads`), and `probes.mlpHeads` gives each head its own input.
   */
  mlpHeads?: number;
}

export type ForwardResult = {
  logits: tf.Tensor3D; // [batch, seq, vocab]
  /** Present when captureWriters was set. */
  writers?: WriterOutputs;
};

/**
 * The one forward pass behind the plain, decomposed, probed and edge-masked runs, so they cannot
 * drift apart. ids: int32 [batch, seq], right-padded (causal attention keeps real tokens from
 * seeing the padding). The caller owns the returned tensors.
 */
export function transformerForward(
  config: ModelConfig,
  params: ParameterSource,
  ids: tf.Tensor2D,
  options: ForwardOptions = {},
): ForwardResult {
  const [batch, seq] = ids.shape;
  if (seq > config.maxPositions && config.positions === 'learned') {
    throw new ContractError(`sequence of ${seq} tokens is longer than the model's ${config.maxPositions} positions`);
  }
  if (options.circuit) checkCircuit(config, options.circuit);
  // A circuit on a graph with MLP heads runs them: its graph says how many.
  const graphHeads = options.circuit?.graph.shape.mlpHeads;
  if (graphHeads !== undefined && options.mlpHeads !== undefined && options.mlpHeads !== graphHeads) {
    throw new ContractError(`the forward option mlpHeads is ${options.mlpHeads}, the circuit's graph has ${graphHeads} MLP heads per MLP`);
  }
  const k = options.mlpHeads ?? graphHeads;
  if (k !== undefined && (!Number.isInteger(k) || k < 1 || config.dMlp % k !== 0)) {
    throw new ContractError(`${k} MLP heads do not divide the model's ${config.dMlp} MLP neurons`);
  }
  if (options.probes?.mlpHeads && k === undefined) {
    throw new ContractError('MLP-head probes need the forward option mlpHeads');
  }
  return tf.tidy(() => {
    const run = new ForwardRun(config, params, batch, seq, k === undefined ? options : { ...options, mlpHeads: k });
    return run.execute(ids);
  });
}

/**
 * k/v slots of a layer's per-reader attention input of `slots` rows: nHeads (3·nHeads rows, a k and
 * a v reader per query head) or nKvHeads (nHeads + 2·nKvHeads rows, one per kv group).
 */
function attentionKvSlots(config: ModelConfig, slots: number): number {
  const { nHeads, nKvHeads } = config;
  if (slots === 3 * nHeads) return nHeads;
  if (slots === nHeads + 2 * nKvHeads) return nKvHeads;
  throw new ContractError(`per-reader attention inputs have ${slots} rows; ${3 * nHeads} (q, k, v per head) or ${nHeads + 2 * nKvHeads} (k, v per kv group) expected`);
}

function checkCircuit(config: ModelConfig, circuit: CircuitRun): void {
  const { graph } = circuit;
  if (graph.shape.kvGroups !== undefined && graph.shape.kvGroups !== config.nKvHeads) {
    throw new ContractError(`circuit graph has ${graph.shape.kvGroups} kv groups per layer, the model has ${config.nKvHeads} k/v heads`);
  }
  if (graph.shape.nLayers !== config.nLayers || graph.shape.nHeads !== config.nHeads) {
    throw new ContractError(
      `circuit graph is for ${graph.shape.nLayers} layers × ${graph.shape.nHeads} heads, the model has ${config.nLayers} × ${config.nHeads}`,
    );
  }
  if (circuit.keep.length !== graph.edgeCount) {
    throw new ContractError(`edge mask has ${circuit.keep.length} entries, the graph has ${graph.edgeCount} edges`);
  }
}

class ForwardRun {
  private readonly tokens: number;
  private readonly rotary: RotaryTables | undefined;
  private readonly mask: tf.Tensor2D;
  private readonly writers: WriterOutputs;

  constructor(
    private readonly config: ModelConfig,
    private readonly params: ParameterSource,
    private readonly batch: number,
    private readonly seq: number,
    private readonly options: ForwardOptions,
  ) {
    this.tokens = batch * seq;
    this.rotary = config.positions === 'rotary' ? rotaryTables(config, seq) : undefined;
    this.mask = causalMask(seq, config.slidingWindow);
    this.writers = { input: tf.zeros([0, 0]) as tf.Tensor2D, heads: [], mlps: [], ...(options.mlpHeads === undefined ? {} : { mlpHeads: [] }) };
  }

  private p(name: string): tf.Tensor {
    return this.params.get(name);
  }

  private optional(name: string): tf.Tensor | undefined {
    return this.params.has(name) ? this.params.get(name) : undefined;
  }

  execute(ids: tf.Tensor2D): ForwardResult {
    const { config, options } = this;
    const captureHeads = Boolean(options.captureWriters || options.circuit);
    const input = options.inputEmbeddings ?? this.embed(ids); // [tokens, dModel]
    if (options.inputEmbeddings && (input.shape[0] !== this.tokens || input.shape[1] !== config.dModel)) {
      throw new ContractError(`inputEmbeddings must be [${this.tokens}, ${config.dModel}], got [${input.shape}]`);
    }
    this.writers.input = input;
    const circuit = options.circuit ? new CircuitInputs(config, options.circuit, input) : undefined;

    let resid = input; // [tokens, dModel], the plain residual stream
    for (let layer = 0; layer < config.nLayers; layer++) {
      // Each layer runs in its own tidy: on a tape, what the backward pass needs is kept by the ops
      // themselves, and every other intermediate is freed as soon as its layer ends instead of
      // when the whole forward pass does. A circuit's state (its deltas and base) leaves the tidy
      // with the layer's outputs.
      const out: { resid: tf.Tensor2D; heads: tf.Tensor3D | undefined; mlp: tf.Tensor2D | undefined; mlpHeads?: tf.Tensor3D } = circuit
        ? tf.tidy(() => ({ ...this.circuitLayer(layer, circuit), state: circuit.tensors() }))
        : tf.tidy(() => this.layer(layer, resid, captureHeads));
      resid = out.resid;
      if (out.heads && captureHeads && (!circuit || options.captureWriters)) this.writers.heads.push(out.heads);
      else out.heads?.dispose();
      if (out.mlp && (!circuit || options.captureWriters)) this.writers.mlps.push(out.mlp);
      else out.mlp?.dispose();
      if (out.mlpHeads && options.captureWriters) this.writers.mlpHeads!.push(out.mlpHeads);
      else out.mlpHeads?.dispose();
    }

    let finalInput: tf.Tensor = circuit ? circuit.readerInputs(config.nLayers, 'logits') : resid;
    if (options.probes) finalInput = addUnsaved(finalInput, options.probes.logits) as tf.Tensor2D;
    const logits = this.unembed(finalInput as tf.Tensor2D);
    return options.captureWriters ? { logits, writers: this.writers } : { logits };
  }

  /** One transformer block: the residual after it and its writers' outputs. */
  private layer(
    layer: number,
    residIn: tf.Tensor2D,
    captureHeads: boolean,
  ): { resid: tf.Tensor2D; heads: tf.Tensor3D | undefined; mlp: tf.Tensor2D; mlpHeads?: tf.Tensor3D } {
    const { options } = this;
    const prefix = blockPrefix(layer);
    let resid = residIn; // [tokens, dModel]
    // Attention: one input for all heads, or one per (q/k/v, head) reader when probed.
    let attnInput: tf.Tensor = resid;
    if (options.probes) {
      const probe = options.probes.attention[layer];
      if (!probe) throw new ContractError(`no attention probe for layer ${layer}`);
      attnInput = addUnsaved(tf.expandDims(attnInput, 0), probe); // [3·nHeads, tokens, dModel]
    }
    const { heads, total } = this.attention(layer, attnInput, captureHeads);
    resid = addUnsaved(resid, total!) as tf.Tensor2D;

    if (options.mlpHeads !== undefined && (options.probes?.mlpHeads || captureHeads)) {
      // MLP heads: one input per head when probed ([K, tokens, dModel]), else the shared residual.
      const probe = options.probes?.mlpHeads?.[layer];
      if (options.probes && !probe) throw new ContractError(`no MLP-head probe for layer ${layer}`);
      const mlpInput = probe ? addUnsaved(tf.expandDims(resid, 0), probe) : resid;
      const mlpHeads = this.mlpByHead(prefix, mlpInput, options.mlpHeads); // [K, tokens, dModel]
      const bOut = this.optional(`${prefix}.mlp.b_out`);
      const summed = tf.sum(mlpHeads, 0);
      const mlpOut = (bOut ? tf.add(summed, bOut) : summed) as tf.Tensor2D;
      resid = addUnsaved(resid, mlpOut) as tf.Tensor2D;
      return { resid, heads, mlp: mlpOut, mlpHeads };
    }
    let mlpInput: tf.Tensor = resid;
    if (options.probes) mlpInput = addUnsaved(mlpInput, options.probes.mlp[layer]!);
    const mlpOut = this.mlp(prefix, mlpInput as tf.Tensor2D);
    resid = addUnsaved(resid, mlpOut) as tf.Tensor2D;
    return { resid, heads, mlp: mlpOut };
  }

  /**
   * One transformer block of a circuit: every reader reads its masked input (one per q/k/v head
   * reader, the MLP's), and the block's writers join the circuit's state. The plain residual is
   * not formed (nothing reads it); `resid` is the unchanged input, for the loop's sake.
   */
  private circuitLayer(layer: number, circuit: CircuitInputs): { resid: tf.Tensor2D; heads: tf.Tensor3D; mlp: tf.Tensor2D | undefined; mlpHeads?: tf.Tensor3D } {
    const { options } = this;
    let attnInput = circuit.readerInputs(layer, 'attention'); // [3·nHeads, tokens, dModel]
    if (options.probes) {
      const probe = options.probes.attention[layer];
      if (!probe) throw new ContractError(`no attention probe for layer ${layer}`);
      attnInput = addUnsaved(attnInput, probe);
    }
    const { heads } = this.attention(layer, attnInput, true, false);
    circuit.addHeads(layer, heads!, this.optional(`${blockPrefix(layer)}.attn.b_O`));

    const prefix = blockPrefix(layer);
    if (options.circuit!.graph.shape.mlpHeads !== undefined) {
      // MLP heads: each head's neurons computed from its own masked input [K, tokens, dModel]; its
      // output (its neurons' rows of W_out) is its writer's; b_out belongs to no node.
      let mlpInput = circuit.readerInputs(layer, 'mlp');
      if (options.probes?.mlpHeads) mlpInput = addUnsaved(mlpInput, options.probes.mlpHeads[layer]!);
      const mlpHeads = this.mlpByHead(prefix, mlpInput, options.mlpHeads!); // [K, tokens, dModel]
      const bOut = this.optional(`${prefix}.mlp.b_out`);
      circuit.addMlpHeads(layer, mlpHeads, bOut);
      if (!options.captureWriters) return { resid: this.writers.input, heads: heads!, mlp: undefined, mlpHeads };
      // Captured: the MLP's output is its heads' sum and b_out, as in the plain forward.
      const summed = tf.sum(mlpHeads, 0);
      return { resid: this.writers.input, heads: heads!, mlp: (bOut ? tf.add(summed, bOut) : summed) as tf.Tensor2D, mlpHeads };
    }
    let mlpInput = circuit.readerInputs(layer, 'mlp'); // [tokens, dModel]
    if (options.probes) mlpInput = addUnsaved(mlpInput, options.probes.mlp[layer]!);
    const mlpOut = this.mlp(prefix, mlpInput as tf.Tensor2D);
    circuit.addMlp(layer, mlpOut);
    return { resid: this.writers.input, heads: heads!, mlp: mlpOut };
  }

  private embed(ids: tf.Tensor2D): tf.Tensor2D {
    const flatIds = tf.reshape(ids, [this.tokens]) as tf.Tensor1D;
    let x = embeddingLookup(this.p('embed.W_E') as tf.Tensor2D, flatIds) as tf.Tensor2D; // [tokens, dModel]
    if (this.config.positions === 'learned') {
      const positions = tf.slice(this.p('pos_embed.W_pos'), [0, 0], [this.seq, this.config.dModel]); // [seq, dModel]
      x = tf.reshape(tf.add(tf.reshape(x, [this.batch, this.seq, this.config.dModel]), positions), [this.tokens, this.config.dModel]) as tf.Tensor2D;
    }
    return x;
  }

  /**
   * Self-attention of one layer. x is [tokens, dModel] (shared input) or [3·nHeads, tokens,
   * dModel] (one input per reader). Returns the per-head writer outputs when asked and the sum
   * that joins the residual stream (heads + b_O), unless `total` is false (a circuit forms no
   * residual, and on a tape the sum would keep the heads alive).
   */
  private attention(layer: number, x: tf.Tensor, perHead: boolean, total = true): { heads: tf.Tensor3D | undefined; total: tf.Tensor2D | undefined } {
    const { config, batch, seq, tokens } = this;
    const { nHeads, nKvHeads, dHead, dModel } = config;
    const prefix = `${blockPrefix(layer)}.attn`;
    const normed = normalize(config, x, this.p(`${blockPrefix(layer)}.ln1.w`), this.optional(`${blockPrefix(layer)}.ln1.b`));

    let q: tf.Tensor3D; // [batch·nHeads, seq, dHead]
    let k: tf.Tensor3D;
    let v: tf.Tensor3D;
    if (normed.rank === 3) {
      // Per-reader inputs: each (letter, head) slot is projected by that head's own weights; with
      // k/v readers per kv group ([nHeads + 2·nKvHeads] slots) each k/v slot by its group's, and
      // the group's k and v are then shared by its query heads.
      const kvSlots = attentionKvSlots(config, normed.shape[0]!);
      const weights = tf.concat(
        [this.headWeights(`${prefix}.W_Q`, nHeads, nHeads), this.headWeights(`${prefix}.W_K`, nKvHeads, kvSlots), this.headWeights(`${prefix}.W_V`, nKvHeads, kvSlots)],
        0,
      ); // [slots, dModel, dHead]
      let qkv: tf.Tensor = batchMatMul(normed as tf.Tensor3D, weights); // [slots, tokens, dHead]
      if (config.attentionBias) {
        const biases = tf.concat(
          [this.headBiases(`${prefix}.b_Q`, nHeads, nHeads), this.headBiases(`${prefix}.b_K`, nKvHeads, kvSlots), this.headBiases(`${prefix}.b_V`, nKvHeads, kvSlots)],
          0,
        ); // [slots, 1, dHead]
        qkv = tf.add(qkv, biases);
      }
      const toHeadsFirst = (t: tf.Tensor) =>
        tf.reshape(tf.transpose(tf.reshape(t, [nHeads, batch, seq, dHead]), [1, 0, 2, 3]), [batch * nHeads, seq, dHead]) as tf.Tensor3D;
      const [qs, ks, vs] = tf.split(qkv, [nHeads, kvSlots, kvSlots], 0) as [tf.Tensor, tf.Tensor, tf.Tensor];
      q = toHeadsFirst(qs);
      k = toHeadsFirst(this.repeatGroups(ks, kvSlots, nHeads));
      v = toHeadsFirst(this.repeatGroups(vs, kvSlots, nHeads));
    } else {
      const project = (w: string, b: string, heads: number) => {
        let out: tf.Tensor = matMul(normed as tf.Tensor2D, this.p(w) as tf.Tensor2D); // [tokens, heads·dHead]
        if (config.attentionBias) out = addUnsaved(out, this.p(b));
        return permuteUnsaved(out, [batch, seq, heads, dHead], [0, 2, 1, 3], [batch, heads, seq, dHead]); // [batch, heads, seq, dHead]
      };
      const expandKv = (t: tf.Tensor) => this.repeatKvHeads(t); // [batch, nHeads, seq, dHead]
      q = reshapeUnsaved(project(`${prefix}.W_Q`, `${prefix}.b_Q`, nHeads), [batch * nHeads, seq, dHead]) as tf.Tensor3D;
      k = reshapeUnsaved(expandKv(project(`${prefix}.W_K`, `${prefix}.b_K`, nKvHeads)), [batch * nHeads, seq, dHead]) as tf.Tensor3D;
      v = reshapeUnsaved(expandKv(project(`${prefix}.W_V`, `${prefix}.b_V`, nKvHeads)), [batch * nHeads, seq, dHead]) as tf.Tensor3D;
    }
    if (this.rotary) {
      q = applyRotary(q, this.rotary);
      k = applyRotary(k, this.rotary);
    }
    const z = attentionCore(q, k, v, this.mask, 1 / Math.sqrt(dHead)); // [batch·nHeads, seq, dHead]

    const wO = this.p(`${prefix}.W_O`) as tf.Tensor2D; // [nHeads·dHead, dModel]
    const bO = this.optional(`${prefix}.b_O`);
    if (perHead) {
      const zByHead = tf.reshape(tf.transpose(tf.reshape(z, [batch, nHeads, seq, dHead]), [1, 0, 2, 3]), [nHeads, tokens, dHead]) as tf.Tensor3D;
      const heads = batchMatMul(zByHead, tf.reshape(wO, [nHeads, dHead, dModel]) as tf.Tensor3D) as tf.Tensor3D; // [nHeads, tokens, dModel]
      if (!total) return { heads, total: undefined };
      const summed = tf.sum(heads, 0);
      return { heads, total: (bO ? tf.add(summed, bO) : summed) as tf.Tensor2D };
    }
    const zFlat = permuteUnsaved(z, [batch, nHeads, seq, dHead], [0, 2, 1, 3], [tokens, nHeads * dHead]) as tf.Tensor2D;
    const out = matMul(zFlat, wO);
    return { heads: undefined, total: (bO ? addUnsaved(out, bO) : out) as tf.Tensor2D };
  }

  /** W [dModel, heads·dHead] → [slots, dModel, dHead], k/v heads repeated when there is a slot per query head. */
  private headWeights(name: string, heads: number, slots: number): tf.Tensor3D {
    const { dModel, dHead } = this.config;
    const perHead = tf.transpose(tf.reshape(this.p(name), [dModel, heads, dHead]), [1, 0, 2]); // [heads, dModel, dHead]
    return this.repeatGroups(perHead, heads, slots) as tf.Tensor3D;
  }

  /** b [heads·dHead] → [slots, 1, dHead]. */
  private headBiases(name: string, heads: number, slots: number): tf.Tensor3D {
    const perHead = tf.reshape(this.p(name), [heads, 1, this.config.dHead]);
    return this.repeatGroups(perHead, heads, slots) as tf.Tensor3D;
  }

  /** Repeats each of `heads` leading slices nHeads/heads times (head h uses kv head ⌊h / group⌋). */
  private repeatGroups(t: tf.Tensor, heads: number, nHeads: number): tf.Tensor {
    if (heads === nHeads) return t;
    const group = nHeads / heads;
    const rest = t.shape.slice(1);
    return tf.reshape(tf.tile(tf.expandDims(t, 1), [1, group, ...rest.map(() => 1)]), [nHeads, ...rest]);
  }

  /** [batch, nKvHeads, seq, dHead] → [batch, nHeads, seq, dHead]. */
  private repeatKvHeads(t: tf.Tensor): tf.Tensor {
    const { nHeads, nKvHeads, dHead } = this.config;
    if (nKvHeads === nHeads) return t;
    const group = nHeads / nKvHeads;
    const [batch, , seq] = t.shape as [number, number, number, number];
    // Rank 4 ([batch, kv, 1, seq·dHead] tiled over the group): tile has no gradient at rank 5.
    return tf.reshape(tf.tile(tf.reshape(t, [batch, nKvHeads, 1, seq * dHead]), [1, 1, group, 1]), [batch, nHeads, seq, dHead]);
  }

  private mlp(prefix: string, x: tf.Tensor2D): tf.Tensor2D {
    const { config } = this;
    const normed = normalize(config, x, this.p(`${prefix}.ln2.w`), this.optional(`${prefix}.ln2.b`)) as tf.Tensor2D;
    let hidden: tf.Tensor = matMul(normed, this.p(`${prefix}.mlp.W_in`) as tf.Tensor2D); // [tokens, dMlp]
    if (config.mlpBias) hidden = addUnsaved(hidden, this.p(`${prefix}.mlp.b_in`));
    hidden = config.gatedMlp
      ? tf.mul(activate(config, matMul(normed, this.p(`${prefix}.mlp.W_gate`) as tf.Tensor2D)), hidden)
      : activate(config, hidden);
    let out: tf.Tensor = matMul(hidden as tf.Tensor2D, this.p(`${prefix}.mlp.W_out`) as tf.Tensor2D); // [tokens, dModel]
    if (config.mlpBias) out = addUnsaved(out, this.p(`${prefix}.mlp.b_out`));
    return out as tf.Tensor2D;
  }

  /**
   * The MLP split into K heads of w = d_mlp / K neurons: head j's output act(LN(x_j)·W_in[:, S_j]
   * + b_in[S_j]) · W_out[S_j, :], without b_out. x is [tokens, dModel] (one input for all heads) or
   * [K, tokens, dModel] (one per MLP-head reader). Returns [K, tokens, dModel].
   */
  private mlpByHead(prefix: string, x: tf.Tensor, k: number): tf.Tensor3D {
    const { config } = this;
    const { dModel, dMlp } = config;
    const w = dMlp / k;
    const tokens = x.shape[x.rank - 2]!;
    const normed = normalize(config, x, this.p(`${prefix}.ln2.w`), this.optional(`${prefix}.ln2.b`));
    // W [dModel, dMlp] → [K, dModel, w]; b [dMlp] → [K, 1, w].
    const byHead = (name: string) => tf.transpose(tf.reshape(this.p(name), [dModel, k, w]), [1, 0, 2]) as tf.Tensor3D;
    const project = (name: string): tf.Tensor3D =>
      normed.rank === 3
        ? (batchMatMul(normed as tf.Tensor3D, byHead(name)) as tf.Tensor3D) // [K, tokens, w]
        : (tf.transpose(tf.reshape(matMul(normed as tf.Tensor2D, this.p(name) as tf.Tensor2D), [tokens, k, w]), [1, 0, 2]) as tf.Tensor3D);
    let hidden: tf.Tensor = project(`${prefix}.mlp.W_in`); // [K, tokens, w]
    if (config.mlpBias) hidden = tf.add(hidden, tf.reshape(this.p(`${prefix}.mlp.b_in`), [k, 1, w]));
    hidden = config.gatedMlp ? tf.mul(activate(config, project(`${prefix}.mlp.W_gate`)), hidden) : activate(config, hidden);
    const wOut = tf.reshape(this.p(`${prefix}.mlp.W_out`), [k, w, dModel]) as tf.Tensor3D; // [K, w, dModel]
    return batchMatMul(hidden as tf.Tensor3D, wOut) as tf.Tensor3D; // [K, tokens, dModel]
  }

  private unembed(x: tf.Tensor2D): tf.Tensor3D {
    const { config } = this;
    const normed = normalize(config, x, this.p('ln_final.w'), this.optional('ln_final.b')) as tf.Tensor2D;
    const logits = unembedProduct(normed, this.p(unembedName(config)) as tf.Tensor2D); // [tokens, vocab]
    return reshapeUnsaved(logits, [this.batch, this.seq, config.vocabSize]) as tf.Tensor3D;
  }
}
