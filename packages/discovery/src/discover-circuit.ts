import { ConfigError } from '@circuit-tuning/contracts';
import type { TransformerModel } from '@circuit-tuning/model';
import { type CurveAreas, type CurvePoint, curveAreas, edgeAreaPoints, topCircuits } from './circuit/curve';
import { evaluateCircuits, faithfulness } from './circuit/evaluate';
import { type Circuit, selectCircuit } from './circuit/selection';
import { DEFAULT_TOP_N, type DiscoveryConfig } from './config';
import type { PromptSet } from './prompts/prompt-set';
import { type EdgeScores, type ScoringMethod, scoreEdges } from './scoring/score-edges';

export interface DiscoveryRunOptions {
  /** Seed of the random baseline. */
  seed?: number;
  signal?: AbortSignal;
  /** Progress of the scoring and of the evaluation, in their own units. */
  onProgress?: (phase: 'scoring' | 'evaluation', done: number, total: number) => void;
}

export interface CircuitEvaluation {
  metricFull: number;
  metricEmpty: number;
  metricCircuit: number;
  faithfulness: number;
}

export interface DiscoveryResult {
  scores: EdgeScores;
  circuit: Circuit;
  evaluation: CircuitEvaluation;
  /** The faithfulness curve and MIB's areas, when enabled. */
  curve: ({ points: CurvePoint[] } & CurveAreas) | undefined;
}

/**
 * The discovery stage in memory: score every edge, select the circuit, and measure it (its
 * faithfulness and, if enabled, the faithfulness curve) with one ablation per batch. The training
 * loop calls `scoreEdges` and `selectCircuit` directly; this is the whole stage.
 */
export async function discoverCircuit(
  model: TransformerModel,
  prompts: PromptSet,
  method: ScoringMethod,
  config: DiscoveryConfig,
  options: DiscoveryRunOptions = {},
): Promise<DiscoveryResult> {
  const graph = model.graph({ includeInputAndLogits: config.graph === 'full', kvReaders: config.kvReaders });
  const { selection } = config;
  // Checked before scoring (which can take long): asking for more edges than the graph has would
  // silently select the whole graph, and a researcher who asked for top-50,000 should be told.
  if (selection.mode === 'top-n' && selection.fraction === undefined && selection.n !== undefined && selection.n > graph.edgeCount) {
    throw new ConfigError(
      `selection.n is ${selection.n.toLocaleString('en-US')}, but the ${config.graph} graph of this model (${graph.shape.nLayers} layers × ${graph.shape.nHeads} heads) has ${graph.edgeCount.toLocaleString('en-US')} edges`,
      { hint: `set selection.n to at most ${graph.edgeCount}, or selection.fraction: 1 for the whole graph` },
    );
  }
  const scores = await scoreEdges(model, prompts, {
    method,
    graph,
    metric: config.metric,
    ablation: config.ablation,
    positions: config.positions,
    ...(config.steps === undefined ? {} : { steps: config.steps }),
    ...(config.batchSize === undefined ? {} : { rowsPerPass: config.batchSize }),
    ...(config.memoryBudgetMB === undefined ? {} : { memoryBudgetBytes: config.memoryBudgetMB * 1e6 }),
    ...(config.maxEdges === undefined ? {} : { maxExactEdges: config.maxEdges }),
    seed: options.seed ?? 0,
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: (done, total) => options.onProgress?.('scoring', done, total),
  });

  const n =
    selection.fraction === undefined ? (selection.n ?? Math.min(DEFAULT_TOP_N, graph.edgeCount)) : Math.floor(selection.fraction * graph.edgeCount + 1e-9);
  const circuit = selectCircuit(graph, scores.scores, {
    mode: selection.mode,
    n,
    ...(selection.threshold === undefined ? {} : { threshold: selection.threshold }),
    absolute: selection.absolute,
    topNodes: selection.topNodes,
    prune: selection.prune,
  });

  // One evaluation pass for the empty circuit, the selected one and every point of the curve.
  const curveCircuits = config.curve.enabled ? topCircuits(graph, scores.scores, config.curve.fractions, selection) : [];
  const masks = [new Float32Array(graph.edgeCount), circuit.keep, ...curveCircuits.map((c) => c.circuit.keep)];
  const measured = await evaluateCircuits(model, prompts, graph, masks, {
    metric: config.metric,
    ablation: config.ablation,
    ...(config.batchSize === undefined ? {} : { rowsPerPass: config.batchSize }),
    ...(config.memoryBudgetMB === undefined ? {} : { memoryBudgetBytes: config.memoryBudgetMB * 1e6 }),
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: (done, total) => options.onProgress?.('evaluation', done, total),
  });
  const [metricEmpty, metricCircuit] = measured.circuits as [number, number];
  const evaluation = {
    metricFull: measured.full,
    metricEmpty,
    metricCircuit,
    faithfulness: faithfulness(metricCircuit, measured.full, metricEmpty),
  };
  let curve: DiscoveryResult['curve'];
  if (config.curve.enabled) {
    const points = curveCircuits.map(({ fraction, requested, circuit: c }, i) => {
      const metric = measured.circuits[i + 2]!;
      return { fraction, requested, edges: c.edges, nodes: c.nodes.length, metric, faithfulness: faithfulness(metric, measured.full, metricEmpty) };
    });
    curve = { points, ...curveAreas(edgeAreaPoints(points, graph.edgeCount)) };
  }
  return { scores, circuit, evaluation, curve };
}
