import { type ModelGraph, type ParameterMappingConfig, parseEdgeName } from '@circuit-tuning/contracts';
import { type ModelConfig, type ParameterSlice, readerSlicesOf, sliceAxisMasks, type TransformerModel, writerSlicesOf } from '@circuit-tuning/model';
import { tf } from '@circuit-tuning/runtime';

/**
 * The nodes of a circuit of edges by name: every writer of a kept edge and every reader
 * (`a4.h0<q>`, `m5`, `logits`). For reading circuit logs; training maps edge indices through
 * {@link CircuitParameterMap}.
 */
export function parameterOwners(edges: readonly string[]): Set<string> {
  const nodes = new Set<string>();
  for (const edge of edges) {
    const parsed = parseEdgeName(edge);
    if (!parsed) continue;
    nodes.add(parsed.writer);
    nodes.add(parsed.qkv ? `${parsed.readerNode}<${parsed.qkv}>` : parsed.readerNode);
  }
  return nodes;
}

/** The parameter slices a circuit owns, and how many distinct nodes (writers and readers by name) it has. */
export interface CircuitSlices {
  slices: ParameterSlice[];
  nodes: number;
}

/**
 * Edge index → writer and reader index → parameter slices (docs/method.md §4.1, step 2), computed once
 * per graph and mapping, so a step maps its circuit by indices instead of parsing edge names.
 * A writer's slices and a reader's slices are those of `writerSlicesOf` / `readerSlicesOf`: with
 * mlp 'reader-writer' an MLP that only writes into the circuit trains W_out/b_out, one that only
 * reads from it W_in (W_gate)/b_in.
 */
export class CircuitParameterMap {
  private readonly writerOf: Int32Array;
  private readonly readerOf: Int32Array;
  private readonly writerSlices: ParameterSlice[][];
  private readonly readerSlices: ParameterSlice[][];
  /** Node id of each writer and reader: equal names (an MLP's writer and reader `m2`) share one. */
  private readonly writerNode: Int32Array;
  private readonly readerNode: Int32Array;
  /** Every node by id (writer and reader names merged), with the slices it owns as writer and as reader. */
  private readonly nodeList: { name: string; slices: ParameterSlice[] }[] = [];

  constructor(config: ModelConfig, readonly graph: ModelGraph, readonly mapping: ParameterMappingConfig) {
    const { writer, reader } = graph.edgeEndpoints();
    this.writerOf = writer;
    this.readerOf = reader;
    this.writerSlices = graph.writers.map((w) => writerSlicesOf(config, w, mapping));
    this.readerSlices = graph.readers.map((r) => readerSlicesOf(config, r, mapping));
    const ids = new Map<string, number>();
    const id = (name: string) => {
      const known = ids.get(name);
      if (known !== undefined) return known;
      ids.set(name, ids.size);
      return ids.size - 1;
    };
    this.writerNode = Int32Array.from(graph.writers, (w) => id(w.name));
    this.readerNode = Int32Array.from(graph.readers, (r) => id(r.name));
    for (const name of ids.keys()) this.nodeList.push({ name, slices: [] });
    for (let w = 0; w < graph.writers.length; w++) this.nodeList[this.writerNode[w]!]!.slices.push(...this.writerSlices[w]!);
    for (let r = 0; r < graph.readers.length; r++) this.nodeList[this.readerNode[r]!]!.slices.push(...this.readerSlices[r]!);
  }

  /**
   * The nodes that own parameters and are neither writer nor reader of any of the edges, each
   * with every slice it owns (as writer and as reader): the units the random-activation control
   * draws from (random-extra.ts).
   */
  nodesOutside(edges: Iterable<number>): { name: string; slices: ParameterSlice[] }[] {
    const inside = new Set<number>();
    for (const e of edges) {
      inside.add(this.writerNode[this.writerOf[e]!]!);
      inside.add(this.readerNode[this.readerOf[e]!]!);
    }
    return this.nodeList.filter((node, id) => !inside.has(id) && node.slices.length > 0);
  }

  /** Every node of the graph that owns parameters, with every slice it owns (as writer and as reader). */
  nodes(): { name: string; slices: ParameterSlice[] }[] {
    return this.nodesOutside([]);
  }

  /** The slices of the writers and readers of the given edges (each node once). */
  slicesOf(edges: Iterable<number>): CircuitSlices {
    const writers = new Set<number>();
    const readers = new Set<number>();
    for (const e of edges) {
      writers.add(this.writerOf[e]!);
      readers.add(this.readerOf[e]!);
    }
    const slices: ParameterSlice[] = [];
    const nodes = new Set<number>();
    for (const w of writers) {
      slices.push(...this.writerSlices[w]!);
      nodes.add(this.writerNode[w]!);
    }
    for (const r of readers) {
      slices.push(...this.readerSlices[r]!);
      nodes.add(this.readerNode[r]!);
    }
    return { slices, nodes: nodes.size };
  }

  /** Whether any writer or reader of the edges owns a parameter (not only input and logits). */
  ownsParameters(edges: Iterable<number>): boolean {
    for (const e of edges) {
      if (this.writerSlices[this.writerOf[e]!]!.length > 0 || this.readerSlices[this.readerOf[e]!]!.length > 0) return true;
    }
    return false;
  }
}

/** Masks of exactly the entries a set of nodes owns, as tensors, with their exact count. */
export interface CircuitMasks {
  /**
   * Parameter name → 0/1 mask that broadcasts to its shape ([rows, 1] or [1, cols] for a matrix
   * cut along one axis: model's SliceMask), or undefined when the circuit owns every entry;
   * parameters absent here are frozen entirely (no gradient is even computed for them).
   */
  masks: Map<string, tf.Tensor | undefined>;
  /** Exact number of trainable entries (overlapping slices counted once). */
  count: number;
  nodes: number;
}

/**
 * Builds per-parameter masks for circuit-tuning from a circuit's slices. The caller disposes the
 * mask tensors.
 */
export function circuitMasks(model: TransformerModel, circuit: CircuitSlices): CircuitMasks {
  const masks = new Map<string, tf.Tensor | undefined>();
  let count = 0;
  for (const [name, mask] of sliceAxisMasks(model.params, circuit.slices)) {
    count += mask.count;
    masks.set(name, mask.count === model.params.get(name).size ? undefined : tf.tensor(Float32Array.from(mask.values), mask.shape));
  }
  return { masks, count, nodes: circuit.nodes };
}
