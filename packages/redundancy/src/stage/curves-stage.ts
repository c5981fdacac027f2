import { CircuitLogTable, ContractError, type ModelGraph, PromptsTable } from '@circuit-tuning/contracts';
import {
  DiscoveryEdgesTable,
  type PromptSet,
  readPromptSet,
  scoreEdges,
} from '@circuit-tuning/discovery';
import { loadModel, type TransformerModel } from '@circuit-tuning/model';
import { defineStage, ensureBackend, readArrowTable, type StageContext, writeArrowTable, writeJsonAtomic } from '@circuit-tuning/runtime';
import { circuitSvg, writeFigure } from '@circuit-tuning/viz';
import { CurvesConfig } from '../config';
import { type RedundancyCurves, redundancyCurves } from '../curves';
import { nodeFrequencyColumns, stepFrequency } from '../node-frequency';
import { NodeFrequencyTable, RedundancyCurveTable } from '../tables';
import { RedundancySummary, summarizeCurves } from './curves-summary';
import { curveChartSvg, frequencyHeatMapSvg } from './figures';
import { formatShare, formatValue } from './format';

const inputs = {
  model: { kind: 'model-dir', description: 'Hugging Face-layout model directory' },
  prompts: { kind: 'arrow', schema: PromptsTable, description: 'clean/corrupted prompt pairs of the task' },
  edges: {
    kind: 'arrow',
    schema: DiscoveryEdgesTable,
    optional: true,
    description: "edge scores of a discovery run (its 'edges' output); scored here with `method` when absent",
  },
  circuit_log: {
    kind: 'arrow',
    schema: CircuitLogTable,
    optional: true,
    description: "a circuit-tuning run's circuit log, for how often each node is in the circuit across training steps",
  },
} as const;

const outputs = {
  curves: { kind: 'arrow', schema: RedundancyCurveTable, description: 'faithfulness over sizes: edges and nodes, method and random' },
  node_frequency: { kind: 'arrow', schema: NodeFrequencyTable, description: 'per node: score, first circuit size, share of sizes and of training steps' },
  summary: { kind: 'json', schema: RedundancySummary, description: 'N*, redundancy ratio, CPR and CMD in edges and nodes, with the random baseline' },
  edges_svg: { kind: 'file', fileName: 'curve-edges.svg', optional: true, description: 'faithfulness over top-N edges, with the random baseline' },
  edges_png: { kind: 'file', fileName: 'curve-edges.png', optional: true, description: 'the same as PNG' },
  nodes_svg: { kind: 'file', fileName: 'curve-nodes.svg', optional: true, description: 'faithfulness over top-N nodes, with the random baseline' },
  nodes_png: { kind: 'file', fileName: 'curve-nodes.png', optional: true, description: 'the same as PNG' },
  frequency_svg: { kind: 'file', fileName: 'node-frequency.svg', optional: true, description: 'layer × head heat map of how often each node is in the circuit' },
  frequency_png: { kind: 'file', fileName: 'node-frequency.png', optional: true, description: 'the same as PNG' },
  circuit_svg: { kind: 'file', fileName: 'nstar-circuit.svg', optional: true, description: 'the N* edge circuit' },
  circuit_png: { kind: 'file', fileName: 'nstar-circuit.png', optional: true, description: 'the same as PNG' },
} as const;

type CurvesContext = StageContext<CurvesConfig, typeof inputs, typeof outputs>;

/**
 * `redundancy:curves` — node redundancy of one task (docs/method.md §3): faithfulness of top-N circuits
 * over a log grid of sizes, in edges and in nodes, for the discovery method's ranking and for random
 * rankings; N* at τ, the redundancy ratio 1 − N* / total, CPR and CMD; and the per-node view.
 */
export const redundancyCurvesStage = defineStage({
  slot: 'redundancy',
  variant: 'curves',
  // Version 2: circuits are evaluated in passes that fit memoryBudgetMB, not 16 rows (sums over
  // the examples may differ in their last bits).
  // Version 3: figures by viz's one line chart and circuit drawer (hover names and scores).
  // Version 4: prompts of different lengths in padded batches (same scores to float rounding).
  // Version 5: CPR/CMD integrate over the share kept after pruning (edges or component nodes), as
  // MIB defines them, not over N / total.
  version: 5,
  description: 'Faithfulness curves in edges and nodes with a random baseline; N*, redundancy ratio, CPR, CMD; per-node frequencies.',
  config: CurvesConfig,
  inputs,
  outputs,
  run: (ctx) => runCurves(ctx as CurvesContext),
});

async function runCurves(ctx: CurvesContext) {
  const { config } = ctx;
  await ensureBackend();
  const model = await loadModel(ctx.inputs.model, { tokenizer: 'optional' });
  try {
    const { prompts } = await readPromptSet(ctx.inputs.prompts, model, config);
    const graph = model.graph({ includeInputAndLogits: config.graph === 'full' });

    const { scores, method } = ctx.inputs.edges ? await readScores(ctx.inputs.edges, graph, config.graph) : await score(ctx, model, prompts, graph);
    const steps = ctx.inputs.circuit_log ? await readCircuitLog(ctx.inputs.circuit_log, graph) : undefined;

    ctx.logger.info(`measuring faithfulness curves of ${method} and ${config.randomSeeds.length} random rankings`, { edges: graph.edgeCount, prompts: prompts.examples });
    const progress = ctx.progress('evaluating circuits');
    const curves = await redundancyCurves(model, prompts, graph, scores, {
      method,
      ...(config.grid.edges ? { edgeSizes: config.grid.edges } : {}),
      ...(config.grid.nodes ? { nodeSizes: config.grid.nodes } : {}),
      gridPoints: config.grid.points,
      tau: config.tau,
      randomSeeds: config.randomSeeds,
      refineRounds: config.refine.rounds,
      refinePoints: config.refine.points,
      selection: config.selection,
      metric: config.metric,
      ablation: config.ablation,
      // Rows per pass as the config says: batchSize, else what fits memoryBudgetMB (this was a
      // fixed 16 rows, whatever the model and the budget).
      ...(config.batchSize === undefined ? {} : { rowsPerPass: config.batchSize }),
      ...(config.memoryBudgetMB === undefined ? {} : { memoryBudgetBytes: config.memoryBudgetMB * 1e6 }),
      signal: ctx.signal,
      onProgress: (done, total, phase) => progress.update(Math.floor(done * 100) / 100, { total, phase }),
    });
    progress.done();

    const summary = summarizeCurves(curves, {
      metric: config.metric,
      ablation: config.ablation,
      graph: config.graph,
      examples: prompts.examples,
      randomSeeds: config.randomSeeds,
      circuitLogSteps: steps?.steps ?? null,
    });
    await writeOutputs(ctx, model, graph, scores, curves, summary, steps);
    ctx.logger.info('N*', { edges: summary.edges.nStar, nodes: summary.nodes.nStar, ratioEdges: summary.edges.ratio, ratioNodes: summary.nodes.ratio });
    return {
      summary: {
        method,
        nStarEdges: summary.edges.nStar,
        nStarNodes: summary.nodes.nStar,
        ratioEdges: summary.edges.ratio,
        ratioNodes: summary.nodes.ratio,
        randomNStarEdges: summary.edges.random.nStar,
        randomNStarNodes: summary.nodes.random.nStar,
        cprEdges: summary.edges.cpr,
        cmdEdges: summary.edges.cmd,
      },
    };
  } finally {
    model.dispose();
  }
}

async function score(ctx: CurvesContext, model: TransformerModel, prompts: PromptSet, graph: ModelGraph) {
  const { config } = ctx;
  const progress = ctx.progress('scoring edges');
  const result = await scoreEdges(model, prompts, {
    method: config.method,
    graph,
    metric: config.metric,
    ablation: config.ablation,
    positions: config.positions,
    steps: config.steps,
    ...(config.batchSize === undefined ? {} : { rowsPerPass: config.batchSize }),
    ...(config.memoryBudgetMB === undefined ? {} : { memoryBudgetBytes: config.memoryBudgetMB * 1e6 }),
    seed: ctx.seed,
    signal: ctx.signal,
    onProgress: (done, total) => progress.update(done, { total }),
  });
  progress.done();
  return { scores: result.scores, method: config.method as string };
}

/** Edge scores from a discovery run's edges table; its edges must be this model's graph, in order. */
async function readScores(path: string, graph: ModelGraph, graphKind: 'full' | 'reference'): Promise<{ scores: Float64Array; method: string }> {
  const table = await readArrowTable(path, DiscoveryEdgesTable);
  const names = graph.edgeNames();
  const otherGraph = table.columns.writer.includes('input') !== (graphKind === 'full');
  const hint = otherGraph ? `the table was scored on the other graph; set graph: '${graphKind === 'full' ? 'reference' : 'full'}'` : 'the edges were scored on another model';
  if (table.numRows !== names.length) throw new ContractError(`${path}: ${table.numRows} edges, but the model's ${graphKind} graph has ${names.length}`, { hint });
  const mismatch = names.findIndex((name, e) => table.columns.name[e] !== name);
  if (mismatch >= 0) throw new ContractError(`${path}: edge ${mismatch} is '${table.columns.name[mismatch]}', the model's graph has '${names[mismatch]}' there`, { hint });
  return { scores: Float64Array.from(table.columns.score), method: table.metadata.extra['ct.discovery.method'] ?? 'edges-table' };
}

async function readCircuitLog(path: string, graph: ModelGraph) {
  const log = await readArrowTable(path, CircuitLogTable);
  const known = new Set(graph.edgeNames());
  const unknown = log.columns.edge.find((edge) => !known.has(edge));
  if (unknown !== undefined) {
    throw new ContractError(`${path}: edge '${unknown}' is not an edge of this model's graph`, { hint: 'the circuit log comes from a run of another model, or of the other graph (full/reference)' });
  }
  return stepFrequency(log.columns.step, log.columns.edge);
}

async function writeOutputs(
  ctx: CurvesContext,
  model: TransformerModel,
  graph: ModelGraph,
  scores: Float64Array,
  curves: RedundancyCurves,
  summary: RedundancySummary,
  steps: ReturnType<typeof stepFrequency> | undefined,
) {
  const { config } = ctx;
  const extra = {
    'ct.redundancy.method': curves.method,
    'ct.redundancy.metric': config.metric,
    'ct.redundancy.ablation': config.ablation,
    'ct.redundancy.graph': config.graph,
    'ct.redundancy.tau': String(config.tau),
    'ct.redundancy.model': `${model.config.architecture} ${model.config.nLayers}x${model.config.nHeads} d${model.config.dModel}`,
  };
  const p = curves.points;
  await writeArrowTable(
    ctx.output('curves'),
    RedundancyCurveTable,
    {
      kind: p.map((x) => x.kind),
      method: p.map((x) => x.method),
      seed: Int32Array.from(p, (x) => x.seed),
      size: Int32Array.from(p, (x) => x.size),
      fraction: p.map((x) => x.fraction),
      edges: Int32Array.from(p, (x) => x.edges),
      nodes: Int32Array.from(p, (x) => x.nodes),
      metric: p.map((x) => x.metric),
      faithfulness: p.map((x) => x.faithfulness),
      on_grid: p.map((x) => x.onGrid),
    },
    { producer: ctx.producer, extra },
  );
  const nodeColumns = nodeFrequencyColumns(graph, curves.nodeRanking, curves.edgeCircuits, steps);
  await writeArrowTable(ctx.output('node_frequency'), NodeFrequencyTable, nodeColumns, { producer: ctx.producer, extra });
  await writeJsonAtomic(ctx.output('summary'), summary);

  if (!config.draw.svg && !config.draw.png) return;
  const paths = (svg: 'edges_svg' | 'nodes_svg' | 'frequency_svg' | 'circuit_svg', png: 'edges_png' | 'nodes_png' | 'frequency_png' | 'circuit_png') => ({
    svg: config.draw.svg ? ctx.output(svg) : undefined,
    png: config.draw.png ? ctx.output(png) : undefined,
  });
  const options = { logger: ctx.logger };
  const setting = `${curves.method} · metric ${config.metric} · ablation ${config.ablation} · ${summary.examples} prompts · graph ${config.graph}`;
  for (const kind of ['edges', 'nodes'] as const) {
    const s = summary[kind];
    const line = `N* = ${s.nStar ?? 'not reached'} of ${s.total} (redundancy ${s.ratio === null ? 'n/a' : formatShare(s.ratio)}) · random N* = ${s.random.nStar ?? 'not reached'} · CPR ${formatValue(s.cpr)} · CMD ${formatValue(s.cmd)}`;
    await writeFigure(curveChartSvg(curves, kind, [setting, line]), paths(`${kind}_svg`, `${kind}_png`), options);
  }
  const frequency = new Map(nodeColumns.name.map((name, i) => [name, nodeColumns.size_frequency[i] ?? 0]));
  const nStarNodes = new Set(summary.nStarNodes);
  await writeFigure(
    frequencyHeatMapSvg(graph, frequency, nStarNodes, [`${curves.edgeCircuits.length} circuit sizes from 1 to ${graph.edgeCount} edges · outlined: the N* circuit's nodes`]),
    paths('frequency_svg', 'frequency_png'),
    options,
  );
  const circuit = curves.nStarCircuits.edges;
  if (circuit) {
    const svg = circuitSvg(graph, scores, circuit, {
      title: `N* circuit (τ = ${config.tau}): ${circuit.edges} edges, ${circuit.nodes.length} nodes`,
      subtitle: [setting, `faithfulness ${formatValue(summary.edges.atNStar?.faithfulness)} · ${summary.edges.nStar} of ${graph.edgeCount} edges requested`],
    });
    await writeFigure(svg, paths('circuit_svg', 'circuit_png'), options);
  }
}
