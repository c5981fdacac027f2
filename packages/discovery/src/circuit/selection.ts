import { ConfigError, headName, type ModelGraph } from '@circuit-tuning/contracts';
import { pruneDangling } from './prune';

export interface SelectionOptions {
  /** 'top-n': the n best edges; 'threshold': every edge whose selection score is ≥ threshold. */
  mode?: 'top-n' | 'threshold';
  n?: number;
  threshold?: number;
  /** Rank by |score| (default) or by the signed score (MIB's choice for CPR). */
  absolute?: boolean;
  /** Rank by the "top nodes" reweighting s'(u,v) = |s(u,v)| · Σ_v' |s(u,v')| · Σ_u' |s(u',v)|. */
  topNodes?: boolean;
  /** Remove dangling edges and nodes after selecting (default true). */
  prune?: boolean;
}

/** A selected circuit over a graph. */
export interface Circuit {
  graph: ModelGraph;
  /** Edge mask in graph edge order (1 keep, 0 ablate): the CircuitRun `keep` of the model. */
  keep: Float32Array;
  /** The value edges were ranked by. */
  selectionScores: Float64Array;
  /** 1-based rank of each edge by selection score (ties by edge order). */
  rank: Int32Array;
  /** Edges selected before pruning. */
  selected: number;
  /** Edges kept (after pruning). */
  edges: number;
  /** Names of the nodes the kept edges touch, in graph order. */
  nodes: string[];
}

/**
 * The values edges are ranked by. The top-nodes reweighting multiplies each edge's |score| by the
 * total |score| leaving its writer and entering its reader (a q/k/v input is its own reader),
 * computed in two passes over all edges, so it is independent of edge order (the reference code's
 * in-place loop updates scores while it reads them).
 */
export function selectionScores(graph: ModelGraph, scores: ArrayLike<number>, options: Pick<SelectionOptions, 'absolute' | 'topNodes'> = {}): Float64Array {
  const out = new Float64Array(graph.edgeCount);
  if (options.topNodes) {
    const { writer, reader } = graph.edgeEndpoints();
    const outSum = new Float64Array(graph.writers.length);
    const inSum = new Float64Array(graph.readers.length);
    for (let e = 0; e < graph.edgeCount; e++) {
      const a = Math.abs(scores[e]!);
      outSum[writer[e]!]! += a;
      inSum[reader[e]!]! += a;
    }
    for (let e = 0; e < graph.edgeCount; e++) out[e] = Math.abs(scores[e]!) * outSum[writer[e]!]! * inSum[reader[e]!]!;
    return out;
  }
  const absolute = options.absolute ?? true;
  for (let e = 0; e < graph.edgeCount; e++) out[e] = absolute ? Math.abs(scores[e]!) : scores[e]!;
  return out;
}

/** Edge indices by descending value, ties by ascending index (deterministic). NaN ranks last. */
export function edgeOrder(values: ArrayLike<number>): Int32Array {
  const order = Int32Array.from({ length: values.length }, (_, i) => i);
  const key = (i: number) => (Number.isNaN(values[i]!) ? Number.NEGATIVE_INFINITY : values[i]!);
  return order.sort((a, b) => key(b) - key(a) || a - b);
}

/** Selects a circuit from edge scores (docs/method.md §2.5: top-N or threshold, optional top-nodes, pruning). */
export function selectCircuit(graph: ModelGraph, scores: ArrayLike<number>, options: SelectionOptions = {}): Circuit {
  if (scores.length !== graph.edgeCount) {
    throw new ConfigError(`got ${scores.length} edge scores for a graph of ${graph.edgeCount} edges`);
  }
  const values = selectionScores(graph, scores, options);
  const order = edgeOrder(values);
  const rank = new Int32Array(graph.edgeCount);
  order.forEach((edge, i) => {
    rank[edge] = i + 1;
  });
  const mask = new Uint8Array(graph.edgeCount);
  const mode = options.mode ?? 'top-n';
  if (mode === 'top-n') {
    const n = options.n ?? 0;
    if (!Number.isInteger(n) || n < 0) throw new ConfigError(`top-n needs a non-negative integer n, got ${n}`);
    for (let i = 0; i < Math.min(n, order.length); i++) mask[order[i]!] = 1;
  } else {
    const threshold = options.threshold;
    if (threshold === undefined || Number.isNaN(threshold)) throw new ConfigError('threshold selection needs a threshold');
    for (let e = 0; e < graph.edgeCount; e++) if (values[e]! >= threshold) mask[e] = 1;
  }
  return circuitFromMask(graph, mask, { values, rank, prune: options.prune ?? true });
}

/** A circuit from an explicit edge mask (1 = in circuit), e.g. a random circuit or one read from a file. */
export function circuitFromMask(
  graph: ModelGraph,
  mask: ArrayLike<number>,
  options: { values?: Float64Array; rank?: Int32Array; prune?: boolean } = {},
): Circuit {
  const selected = Uint8Array.from(mask, (m) => (m ? 1 : 0));
  const kept = options.prune ?? true ? pruneDangling(graph, selected) : selected;
  const keep = Float32Array.from(kept);
  let edges = 0;
  for (const k of kept) edges += k;
  return {
    graph,
    keep,
    selectionScores: options.values ?? new Float64Array(graph.edgeCount),
    rank: options.rank ?? Int32Array.from({ length: graph.edgeCount }, (_, i) => i + 1),
    selected: selected.reduce((a, b) => a + b, 0),
    edges,
    nodes: circuitNodes(graph, kept),
  };
}

/**
 * Names of the nodes touched by kept edges, in graph order (writers, then the logits). An edge into
 * a kv group's k/v reader touches every head of the group (each reads that k/v input), as an edge
 * into `a3.h5<k>` touches `a3.h5`.
 */
export function circuitNodes(graph: ModelGraph, kept: ArrayLike<number>): string[] {
  const { writer, reader } = graph.edgeEndpoints();
  const touched = new Set<string>();
  for (let e = 0; e < graph.edgeCount; e++) {
    if (!kept[e]) continue;
    touched.add(graph.writers[writer[e]!]!.name);
    const r = graph.readers[reader[e]!]!;
    if (r.kind === 'kv') for (const head of r.heads) touched.add(headName(r.layer, head));
    else touched.add(r.node);
  }
  return allNodeNames(graph).filter((name) => touched.has(name));
}

/** Every node of the graph in order: the writers (input, heads and MLPs by layer), then the logits. */
export function allNodeNames(graph: ModelGraph): string[] {
  const names = graph.writers.map((w) => w.name);
  if (graph.includeInputAndLogits) names.push('logits');
  return names;
}

/** A top-N schedule (docs/method.md §2.5): from `start` to `end` over `steps`, linear or cosine, then flat. */
export function topNSchedule(options: { start: number; end: number; steps: number; kind?: 'linear' | 'cosine' }): (step: number) => number {
  const { start, end, steps } = options;
  if (!(steps > 0)) throw new ConfigError(`a top-N schedule needs steps > 0, got ${steps}`);
  return (step) => {
    const t = Math.min(Math.max(step / steps, 0), 1);
    const value = options.kind === 'cosine' ? end + ((start - end) * (1 + Math.cos(Math.PI * t))) / 2 : start + (end - start) * t;
    return Math.round(value);
  };
}
