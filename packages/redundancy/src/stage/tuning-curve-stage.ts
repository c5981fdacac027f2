import { buildGraph, CircuitLogTable, PromptsTable, TrainLogTable } from '@circuit-tuning/contracts';
import { allNodeNames } from '@circuit-tuning/discovery';
import { loadModel, readModelConfig } from '@circuit-tuning/model';
import { defineStage, ensureBackend, RunIndex, readArrowTable, readRunIndex, type StageContext, writeArrowTable, writeJsonAtomic } from '@circuit-tuning/runtime';
import { heatMapSvg, lineChartSvg, type ReferenceLine, writeFigure } from '@circuit-tuning/viz';
import { TuningCurveConfig } from '../config';
import { tuningKnee } from '../knee';
import { nodeCoordinates, stepFrequency } from '../node-frequency';
import { componentNodes } from '../node-circuits';
import { TuningCurveTable, TuningNodeStepsTable } from '../tables';
import { type EvalPrompts, evalPromptsOf, evaluateTarget } from '../target-metric';
import { axisValue, collectTuningRuns, type TuningAxis, type TuningRun } from '../tuning-runs';
import { finite } from './curves-summary';
import { formatValue } from './format';
import { TuningCurveSummary } from './tuning-summary';

const inputs = {
  runs: {
    kind: 'json',
    schema: RunIndex,
    description:
      'the training runs of the curve: train:circuit-tuning steps (one per top-N, or per rediscovery interval K with axis every) and a train:full step, collected (other collected steps are ignored)',
  },
  model: { kind: 'model-dir', description: 'the model the runs started from (the curve’s base level)' },
  prompts: { kind: 'arrow', schema: PromptsTable, description: 'evaluation prompts, scored on `evalSplit`' },
} as const;

const outputs = {
  curve: { kind: 'arrow', schema: TuningCurveTable, description: 'target metric and trainable fraction per run: circuit-tuning at each top-N (or K), full fine-tuning, base' },
  nodes: { kind: 'arrow', schema: TuningNodeStepsTable, description: 'per circuit-tuning run and node: share of logged steps in the circuit' },
  summary: { kind: 'json', schema: TuningCurveSummary, description: 'base and full levels, the points, the knee (gain share and Kneedle; top-N axis only)' },
  svg: { kind: 'file', fileName: 'tuning-curve.svg', optional: true, description: 'the target metric against the axis (top-N or K) with full fine-tuning, the base model and the knee' },
  png: { kind: 'file', fileName: 'tuning-curve.png', optional: true, description: 'the same as PNG' },
  shares_svg: {
    kind: 'file',
    fileName: 'tuning-shares.svg',
    optional: true,
    description: "share of full fine-tuning's gain and trainable fraction (of full fine-tuning's trainable entries) against the axis",
  },
  shares_png: { kind: 'file', fileName: 'tuning-shares.png', optional: true, description: 'the same as PNG' },
  nodes_svg: { kind: 'file', fileName: 'tuning-nodes.svg', optional: true, description: 'heat map: run (top-N or K) × node, share of training steps in the circuit' },
  nodes_png: { kind: 'file', fileName: 'tuning-nodes.png', optional: true, description: 'the same as PNG' },
} as const;

type TuningContext = StageContext<TuningCurveConfig, typeof inputs, typeof outputs>;

/**
 * `redundancy:tuning-curve` — the tuning curve (docs/method.md §3): the target metric of the base
 * model, of circuit-tuning at each top-N and of full fine-tuning on the evaluation prompts, the
 * trainable fraction, and the knee. With `axis: every` the same for runs at one top-N that differ
 * in the rediscovery interval K (the paper's K sweep, fixtures/pipelines/grids.yaml). The training
 * runs are pipeline steps it collects (a `foreach` of train:circuit-tuning over the axis and a
 * train:full step, fixtures/pipelines/redundancy.yaml), so each run is cached, resumed and
 * scheduled by the pipeline like any step; this stage trains nothing.
 */
export const tuningCurveStage = defineStage({
  slot: 'redundancy',
  variant: 'tuning-curve',
  // Version 5: the training runs are collected pipeline steps (issue 17); the stage only evaluates.
  // Version 6: `axis` (top-N or the rediscovery interval K, issue 15); runs differing in anything
  // but the axis are refused; the trainable fraction in the table (v3), summary and a shares figure.
  version: 6,
  description:
    'The tuning curve of collected circuit-tuning runs (one per top-N, or per rediscovery interval K: the K sweep) against full fine-tuning and the base model: target metric and trainable fraction, and the knee (node-level intrinsic dimension).',
  config: TuningCurveConfig,
  inputs,
  outputs,
  run: (ctx) => runTuningCurve(ctx as TuningContext),
});

async function runTuningCurve(ctx: TuningContext) {
  const { config } = ctx;
  const axis: TuningAxis = config.axis;
  const { tuned, full, ignored, warnings } = collectTuningRuns(await readRunIndex(ctx.inputs.runs), ctx.inputs.runs, axis);
  if (ignored.length > 0) ctx.logger.info(`collected steps that are not runs of the curve, ignored: ${ignored.join(', ')}`, { ignored });
  for (const warning of warnings) ctx.logger.warn(warning);
  const started = new Set([...tuned, ...(full ? [full] : [])].map((r) => r.startModel?.path));
  if (started.size === 1) {
    const [path] = started;
    // The index names a file of the run by its path in the run directory (runtime's indexStep).
    if (path !== undefined && !ctx.inputs.model.endsWith(path)) {
      ctx.logger.warn(`the base model ${ctx.inputs.model} is not the model the runs started from (${path}): the curve's base level may not be theirs`);
    }
  }
  await ensureBackend();
  // The evaluation prompts first: a wrong split fails before any model is scored.
  const evalTable = await readArrowTable(ctx.inputs.prompts, PromptsTable);
  const evalPrompts = evalPromptsOf(evalTable.columns, { split: config.evalSplit, task: config.evalTask, limit: config.evalLimit, source: ctx.inputs.prompts });
  const modelConfig = await readModelConfig(ctx.inputs.model);
  const width = tuned[0]!.mlpHeadWidth;
  const graph = buildGraph(
    { nLayers: modelConfig.nLayers, nHeads: modelConfig.nHeads, ...(width === null ? {} : { mlpHeads: modelConfig.dMlp / width }) },
    { includeInputAndLogits: tuned[0]!.graph === 'full' },
  );
  const above = [...new Set(tuned.filter((r) => r.topN! > graph.edgeCount).map((r) => r.topN))];
  if (above.length > 0) {
    ctx.logger.warn(`top-N ${above.join(', ')} above the graph's ${graph.edgeCount} edges: those runs kept every edge`, { topN: above, edges: graph.edgeCount });
  }

  ctx.logger.info('evaluating the runs', { runs: tuned.length + (full ? 1 : 0), prompts: evalPrompts.prompts.length, metric: config.metric });
  const progress = ctx.progress('models evaluated', tuned.length + (full ? 2 : 1));
  const base = await evaluateDir(ctx.inputs.model, evalPrompts, config);
  progress.update(1);
  let evaluated = 1;
  const measure = async (run: TuningRun) => {
    ctx.signal.throwIfAborted();
    const measured = { run, score: await evaluateDir(run.model, evalPrompts, config), log: await trainStats(run.trainLog) };
    progress.update(++evaluated);
    return measured;
  };
  const tunedScores = [];
  for (const run of tuned) tunedScores.push(await measure(run));
  const fullScore = full === null ? undefined : await measure(full);
  progress.done();
  const fullGain = fullScore === undefined ? Number.NaN : fullScore.score.metric - base.metric;
  // A knee is the smallest top-N reaching a share of full fine-tuning's gain; K has none.
  const knee =
    axis === 'top-n'
      ? tuningKnee(
          tunedScores.map((m) => ({ n: m.run.topN!, metric: m.score.metric })),
          { base: base.metric, full: fullScore?.score.metric ?? Number.NaN, share: config.kneeShare },
        )
      : { nShare: null, share: config.kneeShare, kneedle: null, kneedleStrength: null };
  const fullTrainable = fullScore?.log.trainableParameters ?? null;
  const fractionOf = (trainable: number | null | undefined) => (trainable === null || trainable === undefined || !fullTrainable ? null : trainable / fullTrainable);

  // The table: base, the grid in order, full.
  const rows = [
    { run: 'base', topN: null, every: null, score: base, log: undefined, dir: '' },
    ...tunedScores.map((m) => ({ run: 'circuit-tuning', topN: m.run.topN, every: m.run.every, score: m.score, log: m.log, dir: m.run.dir })),
    ...(fullScore ? [{ run: 'full', topN: null, every: null, score: fullScore.score, log: fullScore.log, dir: fullScore.run.dir }] : []),
  ];
  await writeArrowTable(
    ctx.output('curve'),
    TuningCurveTable,
    {
      run: rows.map((r) => r.run),
      top_n: rows.map((r) => r.topN),
      every: rows.map((r) => r.every),
      metric: rows.map((r) => r.score.metric),
      gain: rows.map((r) => r.score.metric - base.metric),
      relative_gain: rows.map((r) => (fullGain === 0 ? Number.NaN : (r.score.metric - base.metric) / fullGain)),
      logit_diff: rows.map((r) => r.score.logitDiff),
      accuracy: rows.map((r) => r.score.accuracy),
      trainable_parameters: rows.map((r) => r.log?.trainableParameters ?? null),
      trainable_fraction: rows.map((r) => fractionOf(r.log?.trainableParameters)),
      circuit_edges: rows.map((r) => r.log?.circuitEdges ?? null),
      circuit_nodes: rows.map((r) => r.log?.circuitNodes ?? null),
      final_loss: rows.map((r) => r.log?.finalLoss ?? null),
      step_dir: rows.map((r) => r.dir),
    },
    { producer: ctx.producer, extra: { 'ct.redundancy.metric': config.metric, 'ct.redundancy.eval_split': config.evalSplit, 'ct.redundancy.axis': axis } },
  );

  // Per run and node: share of logged steps in the circuit.
  const nodeNames = allNodeNames(graph);
  const perRun = [];
  for (const run of tuned) {
    const log = await readArrowTable(run.circuitLog!, CircuitLogTable);
    perRun.push({ topN: run.topN!, every: run.every!, label: axis === 'top-n' ? `top-${run.topN}` : `K = ${run.every}`, ...stepFrequency(log.columns.step, log.columns.edge) });
  }
  const nodeRows = perRun.flatMap((r) => nodeNames.map((node) => ({ topN: r.topN, every: r.every, node, frequency: r.frequency.get(node) ?? 0, steps: r.steps })));
  const coordinates = nodeRows.map((r) => nodeCoordinates(r.node, graph.shape.nLayers));
  await writeArrowTable(
    ctx.output('nodes'),
    TuningNodeStepsTable,
    {
      top_n: Int32Array.from(nodeRows, (r) => r.topN),
      every: Int32Array.from(nodeRows, (r) => r.every),
      node: nodeRows.map((r) => r.node),
      kind: coordinates.map((c) => c.kind),
      layer: Int32Array.from(coordinates, (c) => c.layer),
      head: Int32Array.from(coordinates, (c) => c.head),
      step_frequency: nodeRows.map((r) => r.frequency),
      steps: Int32Array.from(nodeRows, (r) => r.steps),
    },
    { producer: ctx.producer },
  );

  const summary: TuningCurveSummary = {
    metric: config.metric,
    evalSplit: config.evalSplit,
    evalPrompts: evalPrompts.prompts.length,
    axis,
    base: finite(base.metric),
    full: fullScore === undefined ? null : finite(fullScore.score.metric),
    points: tunedScores.map((m) => ({
      x: axisValue(m.run, axis),
      topN: m.run.topN!,
      every: m.run.every!,
      metric: finite(m.score.metric),
      relativeGain: finite((m.score.metric - base.metric) / fullGain),
      trainableFraction: fractionOf(m.log.trainableParameters),
    })),
    knee: { nShare: knee.nShare, share: knee.share, kneedle: knee.kneedle, kneedleStrength: knee.kneedleStrength === null ? null : finite(knee.kneedleStrength) },
    edgesTotal: graph.edgeCount,
    runs: [...tuned, ...(full ? [full] : [])].map((r) => ({ name: r.step, stageDir: r.dir })),
  };
  await writeJsonAtomic(ctx.output('summary'), summary);
  await drawTuning(ctx, summary, { steps: tuned[0]!.steps, circuitLogEvery: tuned[0]!.circuitLogEvery!, topN: tuned[0]!.topN!, every: tuned[0]!.every! }, perRun, componentNodes(graph));
  return {
    summary: { axis, base: summary.base, full: summary.full, kneeShare: knee.nShare, kneedle: knee.kneedle, runs: summary.runs.length },
  };
}

async function evaluateDir(dir: string, data: EvalPrompts, config: TuningCurveConfig) {
  const model = await loadModel(dir, { tokenizer: 'optional' });
  try {
    return await evaluateTarget(model, data, config.metric);
  } finally {
    model.dispose();
  }
}

/** Means over a run's steps of what it trained, from its train log. */
async function trainStats(path: string) {
  const log = await readArrowTable(path, TrainLogTable);
  const c = log.columns;
  const meanOf = (values: ArrayLike<number | null>): number | null => {
    let sum = 0;
    let n = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v !== null && v !== undefined) {
        sum += v;
        n++;
      }
    }
    return n === 0 ? null : sum / n;
  };
  return {
    trainableParameters: meanOf(c.trainable_parameters),
    circuitEdges: meanOf(c.circuit_edges),
    circuitNodes: meanOf(c.circuit_nodes),
    finalLoss: log.numRows === 0 ? null : c.loss[log.numRows - 1]!,
  };
}

async function drawTuning(
  ctx: TuningContext,
  summary: TuningCurveSummary,
  runs: { steps: number; circuitLogEvery: number; topN: number; every: number },
  perRun: { label: string; frequency: Map<string, number>; steps: number }[],
  components: string[],
) {
  const { config } = ctx;
  if (!config.draw.svg && !config.draw.png) return;
  const paths = (svg: 'svg' | 'shares_svg' | 'nodes_svg', png: 'png' | 'shares_png' | 'nodes_png') => ({ svg: config.draw.svg ? ctx.output(svg) : undefined, png: config.draw.png ? ctx.output(png) : undefined });
  const hLines: ReferenceLine[] = [];
  if (summary.full !== null) hLines.push({ value: summary.full, label: `full fine-tuning ${formatValue(summary.full)}`, colour: '#2ca02c' });
  if (summary.base !== null) hLines.push({ value: summary.base, label: `base model ${formatValue(summary.base)}`, colour: '#7f7f7f' });
  const vLines: ReferenceLine[] = [];
  if (summary.knee.nShare !== null) vLines.push({ value: summary.knee.nShare, label: `N${Math.round(summary.knee.share * 100)} = ${summary.knee.nShare}`, colour: '#d62728' });
  if (summary.knee.kneedle !== null) vLines.push({ value: summary.knee.kneedle, label: `Kneedle knee = ${summary.knee.kneedle}`, colour: '#9467bd' });
  // One drawing for both axes: the x values, their label and the second subtitle line differ.
  const byTopN = summary.axis === 'top-n';
  const xLabel = byTopN ? 'top-N edges per step' : 'rediscovery interval K (steps between rediscoveries)';
  const setting = byTopN
    ? `knee: N${Math.round(summary.knee.share * 100)} (share of full fine-tuning's gain) = ${summary.knee.nShare ?? 'not reached'} · Kneedle = ${summary.knee.kneedle ?? 'none'}`
    : `top-${runs.topN} edges per step, rediscovered every K steps`;
  const header = `evaluated on ${summary.evalPrompts} prompts (split ${summary.evalSplit}) · ${runs.steps} steps per run · graph of ${summary.edgesTotal} edges`;
  const svg = lineChartSvg({
    title: byTopN ? `Tuning curve: ${config.metric} after circuit-tuning with top-N edges` : `K sweep: ${config.metric} after circuit-tuning, rediscovering every K steps`,
    subtitle: [header, setting],
    xLabel,
    yLabel: config.metric,
    xScale: 'log',
    series: [{ name: 'circuit-tuning', points: summary.points.map((p) => [p.x, p.metric ?? Number.NaN] as const) }],
    hLines,
    vLines,
  });
  await writeFigure(svg, paths('svg', 'png'), { logger: ctx.logger });
  // Gain and cost on one scale: both are shares of full fine-tuning's (its gain, its trainable entries).
  const shares = lineChartSvg({
    title: byTopN ? 'Tuning curve: share of the gain against share of the parameters' : 'K sweep: share of the gain against share of the parameters',
    subtitle: [header, setting],
    xLabel,
    yLabel: "share of full fine-tuning's",
    xScale: 'log',
    series: [
      { name: `${config.metric} gain / full fine-tuning's gain`, points: summary.points.map((p) => [p.x, p.relativeGain ?? Number.NaN] as const) },
      { name: "trainable fraction (mean over steps, of full fine-tuning's entries)", points: summary.points.map((p) => [p.x, p.trainableFraction ?? Number.NaN] as const) },
    ],
    hLines: [{ value: 1, label: 'full fine-tuning', colour: '#2ca02c' }],
    yInclude: [0, 1],
    vLines: byTopN ? vLines : [],
  });
  await writeFigure(shares, paths('shares_svg', 'shares_png'), { logger: ctx.logger });
  if (perRun.length === 0) return;
  const heat = heatMapSvg({
    title: 'How often each node is in the circuit during circuit-tuning',
    subtitle: [`share of the logged training steps (every ${runs.circuitLogEvery} steps) whose circuit contains the node`],
    rowLabels: perRun.map((r) => r.label),
    columnLabels: components,
    values: perRun.flatMap((r) => components.map((node) => r.frequency.get(node) ?? 0)),
    scale: 'sequential',
    domain: [0, 1],
    rowAxisLabel: 'run',
    columnAxisLabel: 'node',
    valueLabel: 'share of steps',
  });
  await writeFigure(heat, paths('nodes_svg', 'nodes_png'), { logger: ctx.logger });
}
