import { ConfigError, type ModelGraph } from '@circuit-tuning/contracts';
import type { TransformerModel } from '@circuit-tuning/model';
import type { PromptSet } from '../prompts/prompt-set';
import { type EvaluateOptions, evaluateCircuits, faithfulness } from './evaluate';
import { type Circuit, circuitFromMask, edgeOrder, type SelectionOptions, selectionScores } from './selection';

/** MIB's grid of edge fractions (0.1 % … 100 %), as in its circuit-localization evaluation. */
export const MIB_FRACTIONS: readonly number[] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];

export interface CurvePoint {
  fraction: number;
  /** floor(fraction · edge count) edges requested. */
  requested: number;
  /** Edges kept after pruning. */
  edges: number;
  nodes: number;
  metric: number;
  faithfulness: number;
}

export interface FaithfulnessCurve extends CurveAreas {
  points: CurvePoint[];
  metricFull: number;
  metricEmpty: number;
}

/**
 * MIB's two areas of a faithfulness curve (Mueller et al. 2025, circuit-localization track), and
 * the same areas over the nominal grid for comparison with numbers from MIB's released code.
 */
export interface CurveAreas {
  /** Area under the faithfulness curve over the share of edges in the circuit (MIB's CPR; higher is better). */
  cpr: number;
  /** Area between the curve and 1, ∫ |1 − f| over the same x (MIB's CMD; lower is better). */
  cmd: number;
  /** Mean faithfulness over the grid points. */
  average: number;
  /**
   * CPR and CMD with x the nominal fraction p requested (floor(p · E) edges before pruning), as
   * MIB's released evaluation code integrates (`evaluate_area_under_curve` in
   * MIB_circuit_track/evaluation.py); equal to cpr/cmd when pruning removes nothing.
   */
  cprNominal: number;
  cmdNominal: number;
}

/** One point of a curve for its areas: the nominal fraction, the share kept after pruning, f. */
export interface AreaPoint {
  /** The fraction p of the graph requested (N = floor(p · total) before pruning). */
  nominal: number;
  /** The share of the graph actually in the circuit: kept after pruning / total. */
  share: number;
  faithfulness: number;
}

export interface CurveOptions extends EvaluateOptions {
  fractions?: readonly number[];
  selection?: Pick<SelectionOptions, 'absolute' | 'topNodes' | 'prune'>;
}

/**
 * The faithfulness curve of the top-N circuits for N = floor(p · E) over a grid of fractions p,
 * with M(full) from the plain model and M(∅) from every edge ablated.
 */
export async function faithfulnessCurve(
  model: TransformerModel,
  prompts: PromptSet,
  graph: ModelGraph,
  scores: ArrayLike<number>,
  options: CurveOptions = {},
): Promise<FaithfulnessCurve> {
  const fractions = options.fractions ?? MIB_FRACTIONS;
  for (let i = 0; i < fractions.length; i++) {
    const p = fractions[i]!;
    if (!(p > 0 && p <= 1) || (i > 0 && p <= fractions[i - 1]!)) {
      throw new ConfigError(`curve fractions must increase within (0, 1], got [${fractions.join(', ')}]`);
    }
  }
  const circuits = topCircuits(graph, scores, fractions, options.selection ?? {});
  const empty = new Float32Array(graph.edgeCount);
  const measured = await evaluateCircuits(model, prompts, graph, [empty, ...circuits.map((c) => c.circuit.keep)], options);
  const metricEmpty = measured.circuits[0]!;
  const points = circuits.map(({ fraction, requested, circuit }, i) => {
    const metric = measured.circuits[i + 1]!;
    return { fraction, requested, edges: circuit.edges, nodes: circuit.nodes.length, metric, faithfulness: faithfulness(metric, measured.full, metricEmpty) };
  });
  return { points, metricFull: measured.full, metricEmpty, ...curveAreas(edgeAreaPoints(points, graph.edgeCount)) };
}

/**
 * MIB's areas (Mueller et al. 2025, circuit-localization track) by the trapezoidal rule over the
 * grid points in order, x the share of edges in the circuit after pruning (s_i = kept_i / E):
 *   CPR = Σ_i (s_{i+1} − s_i) · (f_i + f_{i+1}) / 2
 *   CMD = Σ_i (s_{i+1} − s_i) · (|1 − f_i| + |1 − f_{i+1}|) / 2
 * Linear x, from the first point to the last, no point added at 0 or 1, f neither clipped nor
 * rescaled. `cprNominal`/`cmdNominal` are the same sums over the nominal fractions p_i. The
 * circuits of a grid are nested (top-N of one ranking), so s_i never decreases (docs/method.md §2.6).
 */
export function curveAreas(points: readonly AreaPoint[]): CurveAreas {
  const area = (x: (p: AreaPoint) => number, y: (p: AreaPoint) => number) => {
    let sum = 0;
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i]!;
      const b = points[i + 1]!;
      sum += ((x(b) - x(a)) * (y(a) + y(b))) / 2;
    }
    return sum;
  };
  const f = (p: AreaPoint) => p.faithfulness;
  const gap = (p: AreaPoint) => Math.abs(1 - p.faithfulness);
  const share = (p: AreaPoint) => p.share;
  const nominal = (p: AreaPoint) => p.nominal;
  const average = points.length === 0 ? Number.NaN : points.reduce((s, p) => s + p.faithfulness, 0) / points.length;
  return { cpr: area(share, f), cmd: area(share, gap), average, cprNominal: area(nominal, f), cmdNominal: area(nominal, gap) };
}

/** The area points of a discovery curve: nominal p, share = edges kept / edge count. */
export function edgeAreaPoints(points: readonly Pick<CurvePoint, 'fraction' | 'edges' | 'faithfulness'>[], edgeCount: number): AreaPoint[] {
  return points.map((p) => ({ nominal: p.fraction, share: p.edges / edgeCount, faithfulness: p.faithfulness }));
}

/** The top-N circuits for N = floor(p · E), p in `fractions` (pruned unless `prune: false`). */
export function topCircuits(
  graph: ModelGraph,
  scores: ArrayLike<number>,
  fractions: readonly number[],
  selection: Pick<SelectionOptions, 'absolute' | 'topNodes' | 'prune'>,
): { fraction: number; requested: number; circuit: Circuit }[] {
  const order = edgeOrder(selectionScores(graph, scores, selection));
  return fractions.map((fraction) => {
    const requested = Math.floor(fraction * graph.edgeCount + 1e-9);
    const mask = new Uint8Array(graph.edgeCount);
    for (let i = 0; i < requested; i++) mask[order[i]!] = 1;
    return { fraction, requested, circuit: circuitFromMask(graph, mask, { prune: selection.prune ?? true }) };
  });
}
