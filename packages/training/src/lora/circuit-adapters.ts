import { ContractError, type ModelGraph } from '@circuit-tuning/contracts';
import { type ParameterSlice, type ParameterSource, readSlice, type TransformerModel } from '@circuit-tuning/model';
import { createRng, matMul, tf } from '@circuit-tuning/runtime';
import type { CircuitParameterMap, CircuitSlices } from '../circuit/masks';
import { foldIntoModel, type LoraConfig } from './adapters';

/** One low-rank adapter on one node's slice of a matrix: the slice [m, n] reads as slice + (α/r)·A·B. */
interface SliceAdapter {
  /** `<param>.<rows|cols>_<start>_<end>`: names the slice, and the adapter's variables after it. */
  key: string;
  slice: ParameterSlice;
  /** min(r, m, n): at that rank the adapter spans every update of the slice. */
  rank: number;
  a: tf.Variable;
  b: tf.Variable;
}

/** The adapter variables a step trains, and their exact number of entries. */
export interface CircuitAdapterStep {
  trainable: { name: string; variable: tf.Variable }[];
  count: number;
}

/** What a checkpoint keeps of the adapters besides their values: which ones have ever trained. */
interface CircuitAdapterState {
  active: string[];
}

/**
 * Circuit-LoRA's adapters (docs/method.md §4.8): one rank-r adapter per matrix slice a graph node
 * owns (packages/model/src/transformer/parameter-slices.ts): a head's W_Q/W_K/W_V columns
 * [d, dHead] get A [d, r]·B [r, dHead], its W_O rows [dHead, d] get A [dHead, r]·B [r, d], an MLP
 * head's W_in/W_gate columns and W_out rows likewise, a whole-MLP node (mapping 'reader-writer' or
 * 'whole') an adapter on each whole matrix it owns, as train:lora would. Vector slices (biases)
 * get none and stay frozen, as under train:lora. A is random, B zero: every adapter starts at the
 * base model exactly. A step trains the adapters of its circuit's slices only; an adapter that has
 * trained once stays in the forward pass (what it learned stays in the model, as circuit-tuning's
 * updates do), one that never trained is left out of it (B = 0: it adds nothing). merge() folds the
 * trained adapters into their slices and leaves every other entry bitwise as it was.
 */
export class CircuitLoraAdapters implements ParameterSource {
  readonly scale: number;
  /** Adapter variables by name (`<key>.lora_A`, `<key>.lora_B`), for checkpoints. */
  readonly variables = new Map<string, tf.Variable>();
  private readonly adapters = new Map<string, SliceAdapter>();
  /** A matrix's adapters, ascending along the one axis its slices cut. */
  private readonly byParam = new Map<string, SliceAdapter[]>();
  /** Adapters that have trained at some step (the only ones the forward pass reads). */
  private readonly active = new Set<string>();

  constructor(
    private readonly model: TransformerModel,
    private readonly parameterMap: CircuitParameterMap,
    config: Pick<LoraConfig, 'rank' | 'alpha'>,
    seed: number,
  ) {
    this.scale = config.alpha / config.rank;
    const rng = createRng(seed).fork('circuit-lora');
    for (const slice of matrixSlicesOf(model, parameterMap)) {
      const key = sliceKey(slice);
      if (this.adapters.has(key)) continue;
      const shape = model.params.get(slice.param).shape as [number, number];
      const [m, n] = slice.axis === 0 ? [slice.size, shape[1]] : [shape[0], slice.size];
      const rank = Math.min(config.rank, m, n);
      // Kaiming-uniform-like A over the slice's input side (as train:lora's adapters.ts); B zero.
      const bound = 1 / Math.sqrt(m);
      const stream = rng.fork(key);
      const a = tf.variable(tf.tensor2d(Float32Array.from({ length: m * rank }, () => (stream.next() * 2 - 1) * bound), [m, rank]), true);
      const b = tf.variable(tf.zeros([rank, n]), true);
      const adapter: SliceAdapter = { key, slice, rank, a, b };
      this.adapters.set(key, adapter);
      this.variables.set(`${key}.lora_A`, a);
      this.variables.set(`${key}.lora_B`, b);
      const list = this.byParam.get(slice.param) ?? [];
      list.push(adapter);
      this.byParam.set(slice.param, list);
    }
    for (const [param, list] of this.byParam) {
      list.sort((x, y) => x.slice.start - y.slice.start);
      // Every mapping cuts a matrix along one axis into disjoint node slices (a head's columns, an
      // MLP head's rows); the forward pass and merge() rely on it.
      for (let i = 0; i < list.length; i++) {
        const { slice } = list[i]!;
        if (slice.axis !== list[0]!.slice.axis) throw new ContractError(`${param}: circuit-LoRA needs node slices along one axis, got rows and columns`);
        const previous = list[i - 1]?.slice;
        if (previous && previous.start + previous.size > slice.start) throw new ContractError(`${param}: node slices ${list[i - 1]!.key} and ${list[i]!.key} overlap`);
      }
    }
  }

  /** The graph whose nodes' slices the adapters sit on. */
  get graph(): ModelGraph {
    return this.parameterMap.graph;
  }

  /** Number of adapters (one per matrix slice of the graph's nodes). */
  get size(): number {
    return this.adapters.size;
  }

  /**
   * The adapters of a circuit's matrix slices: marks them active (in the forward pass from now on)
   * and returns them as the step's trainable variables with their exact entry count.
   */
  activate(circuit: CircuitSlices): CircuitAdapterStep {
    const chosen = new Set<string>();
    for (const slice of circuit.slices) {
      const key = sliceKey(slice);
      if (this.adapters.has(key)) chosen.add(key);
    }
    const trainable: CircuitAdapterStep['trainable'] = [];
    let count = 0;
    for (const key of [...chosen].sort()) {
      const adapter = this.adapters.get(key)!;
      this.active.add(key);
      trainable.push({ name: `${key}.lora_A`, variable: adapter.a }, { name: `${key}.lora_B`, variable: adapter.b });
      count += adapter.a.size + adapter.b.size;
    }
    return { trainable, count };
  }

  /** The adapters of the circuit of these edges (for tests and logs; activate() is what training calls). */
  keysOf(edges: Iterable<number>): string[] {
    const keys = new Set<string>();
    for (const slice of this.parameterMap.slicesOf(edges).slices) if (this.adapters.has(sliceKey(slice))) keys.add(sliceKey(slice));
    return [...keys].sort();
  }

  save(): CircuitAdapterState {
    return { active: [...this.active].sort() };
  }

  restore(state: unknown): void {
    const saved = state as CircuitAdapterState;
    this.active.clear();
    for (const key of saved.active) {
      if (!this.adapters.has(key)) throw new ContractError(`checkpoint names adapter ${key}, which this model's graph does not have`);
      this.active.add(key);
    }
  }

  has(name: string): boolean {
    return this.model.params.has(name);
  }

  /**
   * The weight as the forward pass reads it: the base weight with each active adapter's slice
   * replaced by slice + (α/r)·A·B; entries outside them are the base's own (sliced, not added to).
   */
  get(name: string): tf.Tensor {
    const base = this.model.params.get(name);
    const list = this.byParam.get(name)?.filter((a) => this.active.has(a.key));
    if (!list || list.length === 0) return base;
    const axis = list[0]!.slice.axis;
    const extent = base.shape[axis]!;
    const along = (start: number, size: number) => readSlice(this.model.params, { param: name, axis, start, size });
    const pieces: tf.Tensor[] = [];
    let at = 0;
    for (const { slice, a, b } of list) {
      if (slice.start > at) pieces.push(along(at, slice.start - at));
      pieces.push(tf.add(along(slice.start, slice.size), tf.mul(matMul(a as tf.Tensor2D, b as tf.Tensor2D), this.scale)));
      at = slice.start + slice.size;
    }
    if (at < extent) pieces.push(along(at, extent - at));
    return pieces.length === 1 ? pieces[0]! : tf.concat(pieces, axis);
  }

  /** Folds every active adapter into its slice (W ← W + (α/r)·A·B there); every other entry stays bitwise. */
  merge(): void {
    const adapted = [...this.byParam.keys()].filter((name) => this.byParam.get(name)!.some((a) => this.active.has(a.key)));
    foldIntoModel(this.model, this, adapted);
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
    this.adapters.clear();
    this.byParam.clear();
  }
}

function sliceKey(slice: ParameterSlice): string {
  return `${slice.param}.${slice.axis === 0 ? 'rows' : 'cols'}_${slice.start}_${slice.start + slice.size}`;
}

/** Every matrix slice a node of the graph owns under the mapping (repeats included). */
function matrixSlicesOf(model: TransformerModel, parameterMap: CircuitParameterMap): ParameterSlice[] {
  return parameterMap
    .nodes()
    .flatMap((node) => node.slices)
    .filter((s) => model.params.get(s.param).shape.length === 2);
}
