import { ConfigError, type ModelGraph } from '@circuit-tuning/contracts';
import {
  type AblationKind,
  type AreaPoint,
  type Circuit,
  circuitFromMask,
  curveAreas,
  edgeOrder,
  evaluateCircuits,
  faithfulness,
  type MetricDefinition,
  type PromptSet,
  type SelectionOptions,
  selectionScores,
} from '@circuit-tuning/discovery';
import type { TransformerModel } from '@circuit-tuning/model';
import { createRng } from '@circuit-tuning/runtime';
import { checkGrid, logGrid } from './grid';
import { nStar, nStarBracket, redundancyRatio, sizesInside } from './n-star';
import { componentCount, componentNodes, nodeCircuitMask, randomNodeOrder, rankNodes } from './node-circuits';

export type CurveKind = 'edges' | 'nodes';
export const CURVE_KINDS: readonly CurveKind[] = ['edges', 'nodes'];

/** One measured circuit of a curve. */
export interface RedundancyPoint {
  kind: CurveKind;
  /** The ranking's name: the method (e.g. 'eap-ig') or 'random'. */
  method: string;
  /** Seed of a random ranking; -1 for the method's. */
  seed: number;
  /** N: edges or component nodes requested. */
  size: number;
  fraction: number;
  /** Edges kept after pruning, and the component nodes they touch. */
  edges: number;
  nodes: number;
  metric: number;
  faithfulness: number;
  onGrid: boolean;
}

/** What the curves say about one kind (edges or nodes). */
export interface KindSummary {
  total: number;
  /** Smallest N with faithfulness ≥ τ for the method's ranking; null when none reaches τ. */
  nStar: number | null;
  /** 1 − N* / total. */
  ratio: number | null;
  /** The N* circuit: edges kept, component nodes, faithfulness. */
  atNStar: { edges: number; nodes: number; faithfulness: number } | null;
  /**
   * MIB's areas over the grid (trapezoids, discovery's `curveAreas`) with x the share of the graph
   * in each circuit after pruning (edges kept / total edges, or component nodes kept / total
   * nodes): CPR (higher is better) and CMD (lower).
   */
  cpr: number;
  cmd: number;
  /** The same for the random baseline, on the mean faithfulness and mean share kept over seeds. */
  random: { nStar: number | null; ratio: number | null; cpr: number; cmd: number };
}

export interface RedundancyCurves {
  method: string;
  tau: number;
  metricFull: number;
  metricEmpty: number;
  points: RedundancyPoint[];
  edges: KindSummary;
  nodes: KindSummary;
  /** The method's circuits on the edge grid, for per-node statistics and drawings. */
  edgeCircuits: { size: number; circuit: Circuit }[];
  /** Component nodes by |node score|, and every node's score. */
  nodeRanking: { order: string[]; scores: Map<string, number> };
  /** The method's circuits at N*, in edges and in nodes (absent without an N*). */
  nStarCircuits: { edges?: Circuit; nodes?: Circuit };
}

export interface RedundancyOptions {
  /** The ranking's name in tables (default 'method'). */
  method?: string;
  /** Explicit grids; by default log grids of `gridPoints` points up to each total. */
  edgeSizes?: readonly number[];
  nodeSizes?: readonly number[];
  gridPoints?: number;
  tau?: number;
  /** Seeds of the random baseline (one curve per seed and kind). */
  randomSeeds?: readonly number[];
  /** Rounds of measuring `refinePoints` sizes inside N*'s gap on the grid (0: grid only). */
  refineRounds?: number;
  refinePoints?: number;
  selection?: Pick<SelectionOptions, 'absolute' | 'topNodes' | 'prune'>;
  metric?: string | MetricDefinition;
  ablation?: AblationKind;
  rowsPerPass?: number;
  /** Bytes one edge-masked pass may use when `rowsPerPass` is not set (discovery's default otherwise). */
  memoryBudgetBytes?: number;
  signal?: AbortSignal;
  /** One call per evaluation pass: (done passes, total passes, what). */
  onProgress?: (done: number, total: number, phase: string) => void;
}

interface Planned {
  kind: CurveKind;
  method: string;
  seed: number;
  size: number;
  onGrid: boolean;
  circuit: Circuit;
}

/**
 * Faithfulness curves of docs/method.md §3, for edges and for nodes, for the method's ranking (from
 * `scores`) and for random rankings of the same sizes, then N*, the redundancy ratio, CPR and CMD.
 * Every circuit of one round is measured in one `evaluateCircuits` pass (ablations computed once
 * per batch); refining N* adds one pass per round.
 */
export async function redundancyCurves(
  model: TransformerModel,
  prompts: PromptSet,
  graph: ModelGraph,
  scores: ArrayLike<number>,
  options: RedundancyOptions = {},
): Promise<RedundancyCurves> {
  if (scores.length !== graph.edgeCount) throw new ConfigError(`got ${scores.length} edge scores for a graph of ${graph.edgeCount} edges`);
  const method = options.method ?? 'method';
  const tau = options.tau ?? 0.9;
  const selection = { absolute: true, topNodes: false, prune: true, ...options.selection };
  const seeds = options.randomSeeds ?? [1, 2, 3, 4, 5];
  const totals: Record<CurveKind, number> = { edges: graph.edgeCount, nodes: componentNodes(graph).length };
  const points = options.gridPoints ?? 16;
  const grids: Record<CurveKind, number[]> = {
    edges: options.edgeSizes ? checkGrid(options.edgeSizes, totals.edges, 'edge') : logGrid(totals.edges, points),
    nodes: options.nodeSizes ? checkGrid(options.nodeSizes, totals.nodes, 'node') : logGrid(totals.nodes, points),
  };

  // Rankings: the method's, and one per random seed, for each kind.
  const methodEdgeOrder = edgeOrder(selectionScores(graph, scores, selection));
  const nodeRanking = rankNodes(graph, scores);
  const rankings: { kind: CurveKind; method: string; seed: number; order: ArrayLike<number> | readonly string[] }[] = [
    { kind: 'edges', method, seed: -1, order: methodEdgeOrder },
    { kind: 'nodes', method, seed: -1, order: nodeRanking.order },
  ];
  for (const seed of seeds) {
    // As discovery's random baseline: seeded normal scores through the same selection.
    const rng = createRng(seed).fork('random-circuit');
    const random = Float64Array.from({ length: graph.edgeCount }, () => rng.normal());
    rankings.push({ kind: 'edges', method: 'random', seed, order: edgeOrder(selectionScores(graph, random, selection)) });
    rankings.push({ kind: 'nodes', method: 'random', seed, order: randomNodeOrder(graph, createRng(seed).fork('random-nodes')) });
  }
  const circuitOf = (kind: CurveKind, order: ArrayLike<number> | readonly string[], size: number): Circuit => {
    if (kind === 'nodes') return circuitFromMask(graph, nodeCircuitMask(graph, new Set((order as readonly string[]).slice(0, size))), { prune: selection.prune });
    const mask = new Uint8Array(graph.edgeCount);
    for (let i = 0; i < size; i++) mask[(order as ArrayLike<number>)[i]!] = 1;
    return circuitFromMask(graph, mask, { prune: selection.prune });
  };

  const planned: Planned[] = rankings.flatMap((r) => grids[r.kind].map((size) => ({ kind: r.kind, method: r.method, seed: r.seed, size, onGrid: true, circuit: circuitOf(r.kind, r.order, size) })));
  const refineRounds = options.refineRounds ?? 2;
  const passes = 1 + refineRounds;
  const measuredPoints: RedundancyPoint[] = [];
  const evaluate = async (batch: Planned[], phase: string, pass: number): Promise<{ full: number; empty: number }> => {
    const masks = [new Float32Array(graph.edgeCount), ...batch.map((p) => p.circuit.keep)];
    const measured = await evaluateCircuits(model, prompts, graph, masks, {
      ...(options.metric === undefined ? {} : { metric: options.metric }),
      ...(options.ablation === undefined ? {} : { ablation: options.ablation }),
      ...(options.rowsPerPass === undefined ? {} : { rowsPerPass: options.rowsPerPass }),
      ...(options.memoryBudgetBytes === undefined ? {} : { memoryBudgetBytes: options.memoryBudgetBytes }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onProgress: (done, total) => options.onProgress?.(pass + done / total, passes, phase),
    });
    const empty = measured.circuits[0]!;
    batch.forEach((p, i) => {
      const metric = measured.circuits[i + 1]!;
      measuredPoints.push({
        kind: p.kind,
        method: p.method,
        seed: p.seed,
        size: p.size,
        fraction: p.size / totals[p.kind],
        edges: p.circuit.edges,
        nodes: componentCount(p.circuit.nodes),
        metric,
        faithfulness: faithfulness(metric, measured.full, empty),
        onGrid: p.onGrid,
      });
    });
    return { full: measured.full, empty };
  };
  const reference = await evaluate(planned, 'grid', 0);

  // Narrow the gap below the method's N* on each kind; random curves stay on the grid.
  for (let round = 0; round < refineRounds; round++) {
    const extra: Planned[] = [];
    for (const r of rankings.filter((x) => x.seed === -1)) {
      const own = measuredPoints.filter((p) => p.kind === r.kind && p.seed === -1);
      const bracket = nStarBracket(own, tau);
      if (!bracket) continue;
      const known = new Set(own.map((p) => p.size));
      for (const size of sizesInside(bracket, options.refinePoints ?? 6)) {
        if (!known.has(size)) extra.push({ kind: r.kind, method, seed: -1, size, onGrid: false, circuit: circuitOf(r.kind, r.order, size) });
      }
    }
    if (extra.length === 0) break;
    // The same model and prompts give the same M(full) and M(∅) in every pass.
    await evaluate(extra, `refine ${round + 1}`, round + 1);
  }

  measuredPoints.sort((a, b) => order(a) - order(b) || a.seed - b.seed || a.size - b.size);
  const edgeCircuits = planned.filter((p) => p.kind === 'edges' && p.seed === -1).map((p) => ({ size: p.size, circuit: p.circuit }));
  const edges = summarizeKind(measuredPoints, 'edges', totals.edges, tau);
  const nodes = summarizeKind(measuredPoints, 'nodes', totals.nodes, tau);
  const nStarCircuits: RedundancyCurves['nStarCircuits'] = {};
  if (edges.nStar !== null) nStarCircuits.edges = circuitOf('edges', methodEdgeOrder, edges.nStar);
  if (nodes.nStar !== null) nStarCircuits.nodes = circuitOf('nodes', nodeRanking.order, nodes.nStar);
  return {
    method,
    tau,
    metricFull: reference.full,
    metricEmpty: reference.empty,
    points: measuredPoints,
    edges,
    nodes,
    edgeCircuits,
    nodeRanking,
    nStarCircuits,
  };
}

/** Edges before nodes, the method before random. */
const order = (p: RedundancyPoint): number => (p.kind === 'edges' ? 0 : 2) + (p.seed === -1 ? 0 : 1);

const orNull = <T>(x: T | undefined): T | null => (x === undefined ? null : x);

/** Mean faithfulness (with its range) and mean edges and nodes kept over random seeds at each grid size. */
export function randomMeanCurve(
  points: readonly RedundancyPoint[],
  kind: CurveKind,
): { size: number; fraction: number; edges: number; nodes: number; faithfulness: number; low: number; high: number }[] {
  const bySize = new Map<number, RedundancyPoint[]>();
  for (const p of points) {
    if (p.kind !== kind || p.seed === -1) continue;
    bySize.set(p.size, [...(bySize.get(p.size) ?? []), p]);
  }
  const mean = (values: readonly number[]) => values.reduce((s, v) => s + v, 0) / values.length;
  return [...bySize.entries()]
    .sort(([a], [b]) => a - b)
    .map(([size, ps]) => {
      const values = ps.map((p) => p.faithfulness);
      return {
        size,
        fraction: ps[0]!.fraction,
        edges: mean(ps.map((p) => p.edges)),
        nodes: mean(ps.map((p) => p.nodes)),
        faithfulness: mean(values),
        low: Math.min(...values),
        high: Math.max(...values),
      };
    });
}

/** A curve's points for MIB's areas: x is the share of the kind kept after pruning (edges or component nodes). */
function areaPoints(points: readonly Pick<RedundancyPoint, 'fraction' | 'edges' | 'nodes' | 'faithfulness'>[], kind: CurveKind, total: number): AreaPoint[] {
  return points.map((p) => ({ nominal: p.fraction, share: (kind === 'edges' ? p.edges : p.nodes) / total, faithfulness: p.faithfulness }));
}

function summarizeKind(points: readonly RedundancyPoint[], kind: CurveKind, total: number, tau: number): KindSummary {
  const own = points.filter((p) => p.kind === kind && p.seed === -1);
  const star = nStar(own, tau);
  const at = own.find((p) => p.size === star);
  const grid = own.filter((p) => p.onGrid);
  const areas = curveAreas(areaPoints(grid, kind, total));
  const random = randomMeanCurve(points, kind);
  const randomStar = nStar(random, tau);
  const randomAreas = curveAreas(areaPoints(random, kind, total));
  return {
    total,
    nStar: orNull(star),
    ratio: orNull(redundancyRatio(star, total)),
    atNStar: at ? { edges: at.edges, nodes: at.nodes, faithfulness: at.faithfulness } : null,
    cpr: areas.cpr,
    cmd: areas.cmd,
    random: { nStar: orNull(randomStar), ratio: orNull(redundancyRatio(randomStar, total)), cpr: randomAreas.cpr, cmd: randomAreas.cmd },
  };
}
