import { ContractError } from '../errors';
import {
  edgeName,
  headName,
  headReaderName,
  kvGroupName,
  kvReaderName,
  mlpHeadName,
  mlpName,
  qkvLetters,
  type ReaderNode,
  type WriterNode,
} from './names';

/** What the graph needs to know about a model: its depth and width in heads. */
export interface GraphShape {
  nLayers: number;
  nHeads: number;
  /**
   * MLP heads per MLP (docs/method.md §1): each MLP is split into this many nodes `m2.n0` … of
   * d_mlp / mlpHeads neurons, each a writer and a reader. Absent: one node `m2` per MLP.
   */
  mlpHeads?: number;
  /**
   * kv groups per layer (grouped-query attention: the model's k/v heads, docs/method.md §1): the k
   * and v inputs are one reader each per group, `a3.g1<k>` / `a3.g1<v>`, shared by the group's
   * nHeads / kvGroups query heads (as the reference code reads Llama). Absent: k and v readers per
   * query head, `a3.h5<k>` (EAP-IG's ungrouped graph).
   */
  kvGroups?: number;
}

export interface GraphOptions {
  /**
   * Include the `input` writer and the `logits` reader (the default, as EAP-IG does). The
   * reference code's training graph leaves both out: 156 × 444 nodes and 31,890 edges for GPT-2
   * small instead of 157 × 445 and 32,491.
   */
  includeInputAndLogits?: boolean;
}

/**
 * The computational graph of docs/method.md §1. Writers are ordered as the model computes them
 * (input, then per layer its heads and its MLP); readers likewise (per layer each head's q, k, v,
 * then the MLP input; last the logits; with kv groups, per layer every head's q, then each
 * group's k, then each group's v, then the MLP input). Edge index e = readerOffset[r] + position of the writer
 * among that reader's upstream writers, and this order is EAP-IG's: reader by reader, each
 * reader's writers in computation order.
 */
export interface ModelGraph {
  readonly shape: GraphShape;
  readonly includeInputAndLogits: boolean;
  readonly writers: readonly WriterNode[];
  readonly readers: readonly ReaderNode[];
  /** For each reader, how many writers feed it: the writers 0 … count-1 in writer order. */
  readonly upstreamCount: Int32Array;
  /** For each reader, the index of its first edge. */
  readonly edgeOffset: Int32Array;
  readonly edgeCount: number;
  /** Writer index of the first writer of each layer (its head 0), and of each layer's (first) MLP writer. */
  readonly firstHeadWriter: Int32Array;
  readonly mlpWriter: Int32Array;
  writerIndex(name: string): number;
  readerIndex(name: string): number;
  edgeIndex(writer: string, reader: string): number;
  edgeNames(): string[];
  /** Writer and reader index of every edge, in edge order. */
  edgeEndpoints(): { writer: Int32Array; reader: Int32Array };
}

export function buildGraph(shape: GraphShape, options: GraphOptions = {}): ModelGraph {
  const { nLayers, nHeads, mlpHeads, kvGroups } = shape;
  if (!Number.isInteger(nLayers) || nLayers < 1 || !Number.isInteger(nHeads) || nHeads < 1) {
    throw new ContractError(`a graph needs at least one layer and one head, got ${nLayers} × ${nHeads}`);
  }
  if (mlpHeads !== undefined && (!Number.isInteger(mlpHeads) || mlpHeads < 1)) {
    throw new ContractError(`a graph needs a whole positive number of MLP heads per MLP, got ${mlpHeads}`);
  }
  if (kvGroups !== undefined && (!Number.isInteger(kvGroups) || kvGroups < 1 || nHeads % kvGroups !== 0)) {
    throw new ContractError(`kv groups must divide the ${nHeads} heads of a layer, got ${kvGroups}`);
  }
  // One MLP node, or mlpHeads of them: [name, head index or undefined].
  const mlpNodes = (layer: number): [string, number | undefined][] =>
    mlpHeads === undefined ? [[mlpName(layer), undefined]] : Array.from({ length: mlpHeads }, (_, j) => [mlpHeadName(layer, j), j]);
  const full = options.includeInputAndLogits ?? true;
  const writers: WriterNode[] = [];
  const firstHeadWriter = new Int32Array(nLayers);
  const mlpWriter = new Int32Array(nLayers);
  if (full) writers.push({ kind: 'input', name: 'input', layer: -1 });
  for (let layer = 0; layer < nLayers; layer++) {
    firstHeadWriter[layer] = writers.length;
    for (let head = 0; head < nHeads; head++) writers.push({ kind: 'head', name: headName(layer, head), layer, head });
    mlpWriter[layer] = writers.length;
    for (const [name, mlpHead] of mlpNodes(layer)) writers.push({ kind: 'mlp', name, layer, ...(mlpHead === undefined ? {} : { mlpHead }) });
  }

  const readers: ReaderNode[] = [];
  const upstream: number[] = [];
  for (let layer = 0; layer < nLayers; layer++) {
    const beforeLayer = firstHeadWriter[layer]!;
    if (kvGroups === undefined) {
      for (let head = 0; head < nHeads; head++) {
        for (const qkv of qkvLetters) {
          readers.push({ kind: 'head', name: headReaderName(layer, head, qkv), node: headName(layer, head), layer, head, qkv });
          upstream.push(beforeLayer);
        }
      }
    } else {
      for (let head = 0; head < nHeads; head++) {
        readers.push({ kind: 'head', name: headReaderName(layer, head, 'q'), node: headName(layer, head), layer, head, qkv: 'q' });
        upstream.push(beforeLayer);
      }
      const size = nHeads / kvGroups;
      for (const qkv of ['k', 'v'] as const) {
        for (let group = 0; group < kvGroups; group++) {
          const heads = Array.from({ length: size }, (_, i) => group * size + i);
          readers.push({ kind: 'kv', name: kvReaderName(layer, group, qkv), node: kvGroupName(layer, group), layer, group, heads, qkv });
          upstream.push(beforeLayer);
        }
      }
    }
    // An MLP (each of its heads) reads everything before it, its own layer's heads included.
    for (const [name, mlpHead] of mlpNodes(layer)) {
      readers.push({ kind: 'mlp', name, node: name, layer, ...(mlpHead === undefined ? {} : { mlpHead }) });
      upstream.push(mlpWriter[layer]!);
    }
  }
  if (full) {
    readers.push({ kind: 'logits', name: 'logits', node: 'logits', layer: nLayers });
    upstream.push(writers.length);
  }

  const upstreamCount = Int32Array.from(upstream);
  const edgeOffset = new Int32Array(readers.length);
  let edgeCount = 0;
  for (let r = 0; r < readers.length; r++) {
    edgeOffset[r] = edgeCount;
    edgeCount += upstreamCount[r]!;
  }
  // Readers with no writer (layer 0 without the input node) have no edges; that is fine.

  const writerIndexByName = new Map(writers.map((w, i) => [w.name, i]));
  const readerIndexByName = new Map(readers.map((r, i) => [r.name, i]));
  const lookup = (map: Map<string, number>, name: string, what: string): number => {
    const index = map.get(name);
    if (index === undefined) throw new ContractError(`unknown ${what} '${name}' in a ${nLayers}-layer, ${nHeads}-head graph`);
    return index;
  };

  return {
    shape: { nLayers, nHeads, ...(mlpHeads === undefined ? {} : { mlpHeads }), ...(kvGroups === undefined ? {} : { kvGroups }) },
    includeInputAndLogits: full,
    writers,
    readers,
    upstreamCount,
    edgeOffset,
    edgeCount,
    firstHeadWriter,
    mlpWriter,
    writerIndex: (name) => lookup(writerIndexByName, name, 'writer'),
    readerIndex: (name) => lookup(readerIndexByName, name, 'reader'),
    edgeIndex(writer, reader) {
      const w = lookup(writerIndexByName, writer, 'writer');
      const r = lookup(readerIndexByName, reader, 'reader');
      if (w >= upstreamCount[r]!) throw new ContractError(`no edge ${edgeName(writer, reader)}: ${writer} is not upstream of ${reader}`);
      return edgeOffset[r]! + w;
    },
    edgeNames() {
      const names: string[] = [];
      for (let r = 0; r < readers.length; r++) {
        for (let w = 0; w < upstreamCount[r]!; w++) names.push(edgeName(writers[w]!.name, readers[r]!.name));
      }
      return names;
    },
    edgeEndpoints() {
      const writer = new Int32Array(edgeCount);
      const reader = new Int32Array(edgeCount);
      for (let r = 0; r < readers.length; r++) {
        const offset = edgeOffset[r]!;
        for (let w = 0; w < upstreamCount[r]!; w++) {
          writer[offset + w] = w;
          reader[offset + w] = r;
        }
      }
      return { writer, reader };
    },
  };
}

/** Number of distinct nodes (writers and reader nodes, a head counted once) in a graph. */
export function nodeCount(graph: ModelGraph): number {
  const names = new Set<string>();
  for (const w of graph.writers) names.add(w.name);
  for (const r of graph.readers) names.add(r.node);
  return names.size;
}
