import type { ModelGraph } from '@circuit-tuning/contracts';
import { ContractError } from '@circuit-tuning/contracts';
import { batchMatMul, embeddingLookup, matMul, tf } from '@circuit-tuning/runtime';
import type { ModelConfig } from '../config/model-config';
import { activate, addUnsaved, applyRotary, attentionCore, causalMask, normalize, permuteUnsaved, type RotaryTables, reshapeUnsaved, rotaryTables } from './layers';
import { attentionReaderSlot, type ReaderProbes, type WriterOutputs } from './node-tensors';
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
 * Running a circuit (method.md §2): every reader's input becomes
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
  return tf.tidy(() => {
    const run = new ForwardRun(config, params, batch, seq, options);
    return run.execute(ids);
  });
}

function checkCircuit(config: ModelConfig, circuit: CircuitRun): void {
  const { graph } = circuit;
  if (graph.shape.nLayers !== config.nLayers || graph.shape.nHeads !== config.nHeads) {
    throw new ContractError(
      `circuit graph is for ${graph.shape.nLayers} layers × ${graph.shape.nHeads} heads, the model has ${config.nLayers} × ${config.nHeads}`,
    );
  }
  if (circuit.keep.length !== graph.edgeCount) {
    throw new ContractError(`edge mask has ${circuit.keep.length} entries, the graph has ${graph.edgeCount} edges`);
  }
}

/** A group of writers produced together (the input, one layer's heads, one MLP) and their deltas. */
interface WriterGroup {
  firstWriter: number;
  count: number;
  /** [count, tokens · dModel]: clean output minus ablated output. */
  delta: tf.Tensor2D;
}

class ForwardRun {
  private readonly tokens: number;
  private readonly rotary: RotaryTables | undefined;
  private readonly mask: tf.Tensor2D;
  private readonly writers: WriterOutputs;
  /** Circuit mode: Σ of ablated writer outputs so far, plus unowned biases. [tokens, dModel] */
  private ablatedBase: tf.Tensor | undefined;
  private readonly groups: WriterGroup[] = [];

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
    this.writers = { input: tf.zeros([0, 0]) as tf.Tensor2D, heads: [], mlps: [] };
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
    if (options.circuit) this.startCircuit(input);

    let resid = input; // [tokens, dModel], the plain residual stream
    for (let layer = 0; layer < config.nLayers; layer++) {
      // Without a circuit, each layer runs in its own tidy: on a tape, what the backward pass needs
      // is kept by the ops themselves, and every other intermediate is freed as soon as its layer
      // ends instead of when the whole forward pass does.
      const out = options.circuit ? this.layer(layer, resid, captureHeads) : tf.tidy(() => this.layer(layer, resid, captureHeads));
      resid = out.resid;
      if (!options.circuit) {
        if (out.heads) this.writers.heads.push(out.heads);
        this.writers.mlps.push(out.mlp);
      }
    }

    let finalInput: tf.Tensor = options.circuit ? this.circuitReaderInputs(config.nLayers, 'logits') : resid;
    if (options.probes) finalInput = addUnsaved(finalInput, options.probes.logits) as tf.Tensor2D;
    const logits = this.unembed(finalInput as tf.Tensor2D);
    return options.captureWriters ? { logits, writers: this.writers } : { logits };
  }

  /**
   * One transformer block: the residual after it and its writers' outputs (in circuit mode they
   * are also recorded in this.writers and the circuit groups here).
   */
  private layer(layer: number, residIn: tf.Tensor2D, captureHeads: boolean): { resid: tf.Tensor2D; heads: tf.Tensor3D | undefined; mlp: tf.Tensor2D } {
    const { options } = this;
    const prefix = blockPrefix(layer);
    let resid = residIn; // [tokens, dModel]
    // Attention: one input for all heads, or one per (q/k/v, head) reader when probed or masked.
    let attnInput: tf.Tensor = resid;
    if (options.circuit) attnInput = this.circuitReaderInputs(layer, 'attention');
    if (options.probes) {
      const probe = options.probes.attention[layer];
      if (!probe) throw new ContractError(`no attention probe for layer ${layer}`);
      attnInput = addUnsaved(attnInput.rank === 2 ? tf.expandDims(attnInput, 0) : attnInput, probe); // [3·nHeads, tokens, dModel]
    }
    const { heads, total } = this.attention(layer, attnInput, captureHeads);
    if (heads && options.circuit) this.writers.heads.push(heads);
    resid = addUnsaved(resid, total) as tf.Tensor2D;
    if (options.circuit) this.addCircuitGroup(this.ablatedHeadsSum(layer, heads!), heads!, options.circuit.ablated.heads[layer], true);

    let mlpInput: tf.Tensor = options.circuit ? this.circuitReaderInputs(layer, 'mlp') : resid;
    if (options.probes) mlpInput = addUnsaved(mlpInput, options.probes.mlp[layer]!);
    const mlpOut = this.mlp(prefix, mlpInput as tf.Tensor2D);
    if (options.circuit) this.writers.mlps.push(mlpOut);
    resid = addUnsaved(resid, mlpOut) as tf.Tensor2D;
    if (options.circuit) this.addCircuitGroup(options.circuit.ablated.mlps[layer]!, mlpOut, options.circuit.ablated.mlps[layer]!, false);
    return { resid, heads, mlp: mlpOut };
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
   * that joins the residual stream (heads + b_O).
   */
  private attention(layer: number, x: tf.Tensor, perHead: boolean): { heads: tf.Tensor3D | undefined; total: tf.Tensor2D } {
    const { config, batch, seq, tokens } = this;
    const { nHeads, nKvHeads, dHead, dModel } = config;
    const prefix = `${blockPrefix(layer)}.attn`;
    const normed = normalize(config, x, this.p(`${blockPrefix(layer)}.ln1.w`), this.optional(`${blockPrefix(layer)}.ln1.b`));

    let q: tf.Tensor3D; // [batch·nHeads, seq, dHead]
    let k: tf.Tensor3D;
    let v: tf.Tensor3D;
    if (normed.rank === 3) {
      // Per-reader inputs: each (letter, head) slot is projected by that head's own weights.
      const weights = tf.concat(
        [this.headWeights(`${prefix}.W_Q`, nHeads), this.headWeights(`${prefix}.W_K`, nKvHeads), this.headWeights(`${prefix}.W_V`, nKvHeads)],
        0,
      ); // [3·nHeads, dModel, dHead]
      let qkv: tf.Tensor = batchMatMul(normed as tf.Tensor3D, weights); // [3·nHeads, tokens, dHead]
      if (config.attentionBias) {
        const biases = tf.concat(
          [this.headBiases(`${prefix}.b_Q`, nHeads), this.headBiases(`${prefix}.b_K`, nKvHeads), this.headBiases(`${prefix}.b_V`, nKvHeads)],
          0,
        ); // [3·nHeads, 1, dHead]
        qkv = tf.add(qkv, biases);
      }
      const toHeadsFirst = (t: tf.Tensor) =>
        tf.reshape(tf.transpose(tf.reshape(t, [nHeads, batch, seq, dHead]), [1, 0, 2, 3]), [batch * nHeads, seq, dHead]) as tf.Tensor3D;
      const [qs, ks, vs] = tf.split(qkv, 3, 0) as [tf.Tensor, tf.Tensor, tf.Tensor];
      q = toHeadsFirst(qs);
      k = toHeadsFirst(ks);
      v = toHeadsFirst(vs);
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
      const summed = tf.sum(heads, 0);
      return { heads, total: (bO ? tf.add(summed, bO) : summed) as tf.Tensor2D };
    }
    const zFlat = permuteUnsaved(z, [batch, nHeads, seq, dHead], [0, 2, 1, 3], [tokens, nHeads * dHead]) as tf.Tensor2D;
    const out = matMul(zFlat, wO);
    return { heads: undefined, total: (bO ? addUnsaved(out, bO) : out) as tf.Tensor2D };
  }

  /** W [dModel, heads·dHead] → [nHeads, dModel, dHead], k/v heads repeated for grouped attention. */
  private headWeights(name: string, heads: number): tf.Tensor3D {
    const { dModel, dHead, nHeads } = this.config;
    const perHead = tf.transpose(tf.reshape(this.p(name), [dModel, heads, dHead]), [1, 0, 2]); // [heads, dModel, dHead]
    return this.repeatGroups(perHead, heads, nHeads) as tf.Tensor3D;
  }

  /** b [heads·dHead] → [nHeads, 1, dHead]. */
  private headBiases(name: string, heads: number): tf.Tensor3D {
    const perHead = tf.reshape(this.p(name), [heads, 1, this.config.dHead]);
    return this.repeatGroups(perHead, heads, this.config.nHeads) as tf.Tensor3D;
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

  private unembed(x: tf.Tensor2D): tf.Tensor3D {
    const { config } = this;
    const normed = normalize(config, x, this.p('ln_final.w'), this.optional('ln_final.b')) as tf.Tensor2D;
    const logits = unembedProduct(normed, this.p(unembedName(config)) as tf.Tensor2D); // [tokens, vocab]
    return reshapeUnsaved(logits, [this.batch, this.seq, config.vocabSize]) as tf.Tensor3D;
  }

  // ---- Circuit mode: reader inputs from kept and ablated writers -------------------------------

  private startCircuit(input: tf.Tensor2D): void {
    const { graph, ablated } = this.options.circuit!;
    if (graph.includeInputAndLogits) {
      this.ablatedBase = tf.add(tf.zerosLike(input), ablated.input);
      this.groups.push({ firstWriter: 0, count: 1, delta: tf.reshape(tf.sub(input, ablated.input), [1, -1]) as tf.Tensor2D });
    } else {
      // Without an input node the embedding is part of every reader's input, like a bias.
      this.ablatedBase = input;
    }
  }

  private ablatedHeadsSum(layer: number, heads: tf.Tensor3D): tf.Tensor {
    const ablatedHeads = this.options.circuit!.ablated.heads[layer];
    if (!ablatedHeads) throw new ContractError(`no ablation values for the heads of layer ${layer}`);
    const sum = tf.sum(tf.add(tf.zerosLike(heads), ablatedHeads), 0); // broadcast to [nHeads, tokens, dModel] first
    const bO = this.optional(`${blockPrefix(layer)}.attn.b_O`);
    return bO ? tf.add(sum, bO) : sum;
  }

  /** Adds a group's ablated sum to the base, and remembers its clean − ablated deltas. */
  private addCircuitGroup(ablatedSum: tf.Tensor, clean: tf.Tensor, ablatedValue: tf.Tensor | undefined, isHeads: boolean): void {
    if (!ablatedValue) throw new ContractError('missing ablation values for a writer group');
    const { graph } = this.options.circuit!;
    const layer = isHeads ? this.writers.heads.length - 1 : this.writers.mlps.length - 1;
    const firstWriter = isHeads ? graph.firstHeadWriter[layer]! : graph.mlpWriter[layer]!;
    const count = isHeads ? this.config.nHeads : 1;
    this.ablatedBase = tf.add(this.ablatedBase!, isHeads ? ablatedSum : tf.add(tf.zerosLike(clean), ablatedValue));
    this.groups.push({ firstWriter, count, delta: tf.reshape(tf.sub(clean, ablatedValue), [count, -1]) as tf.Tensor2D });
  }

  /**
   * Inputs of the readers of one layer: base + Σ_groups keep[readers, group] · delta[group].
   * Returns [3·nHeads, tokens, dModel] for attention (ReaderProbes order), else [tokens, dModel].
   */
  private circuitReaderInputs(layer: number, kind: 'attention' | 'mlp' | 'logits'): tf.Tensor {
    const { graph, keep } = this.options.circuit!;
    const { nHeads, dModel } = this.config;
    const readers: number[] = [];
    if (kind === 'attention') {
      // Graph order is head-major (h0 q,k,v; h1 …); our tensor is letter-major.
      const first = graph.readerIndex(`a${layer}.h0<q>`);
      for (const letter of ['q', 'k', 'v'] as const) {
        for (let head = 0; head < nHeads; head++) {
          readers[attentionReaderSlot(letter, head, nHeads)] = first + head * 3 + (letter === 'q' ? 0 : letter === 'k' ? 1 : 2);
        }
      }
    } else if (kind === 'mlp') {
      readers.push(graph.readerIndex(`m${layer}`));
    } else if (graph.includeInputAndLogits) {
      readers.push(graph.readerIndex('logits'));
    } else {
      // No logits reader: the final residual keeps every writer's (masked-input) output.
      let all: tf.Tensor = this.ablatedBase!;
      for (const group of this.groups) all = tf.add(all, tf.reshape(tf.sum(group.delta, 0), [this.tokens, dModel]));
      return all;
    }
    const upstream = graph.upstreamCount[readers[0]!]!;
    let total: tf.Tensor = tf.zeros([readers.length, this.tokens * dModel]);
    for (const group of this.groups) {
      if (group.firstWriter >= upstream) continue;
      const weights = new Float32Array(readers.length * group.count);
      readers.forEach((reader, row) => {
        const offset = graph.edgeOffset[reader]! + group.firstWriter;
        for (let w = 0; w < group.count; w++) weights[row * group.count + w] = keep[offset + w]!;
      });
      total = tf.add(total, matMul(tf.tensor2d(weights, [readers.length, group.count]), group.delta));
    }
    const inputs = tf.add(tf.reshape(total, [readers.length, this.tokens, dModel]), this.ablatedBase!);
    return kind === 'attention' ? inputs : tf.reshape(inputs, [this.tokens, dModel]);
  }
}
