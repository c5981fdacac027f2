import { dirname, join, relative } from 'node:path';
import { CircuitLogTable, PromptsTable, TextsTable, TrainLogTable } from '@circuit-tuning/contracts';
import { allNodeNames } from '@circuit-tuning/discovery';
import { loadModel, readModelConfig } from '@circuit-tuning/model';
import {
  backendInfo,
  defineStage,
  ensureBackend,
  readArrowTable,
  type StageContext,
  type StageReporter,
  writeArrowTable,
  writeJsonAtomic,
} from '@circuit-tuning/runtime';
import { heatMapSvg, lineChartSvg, type ReferenceLine, writeFigure } from '@circuit-tuning/viz';
import { buildGraph } from '@circuit-tuning/contracts';
import { TuningCurveConfig } from '../config';
import { tuningKnee } from '../knee';
import { nodeCoordinates, stepFrequency } from '../node-frequency';
import { componentNodes } from '../node-circuits';
import { TuningCurveTable, TuningNodeStepsTable } from '../tables';
import { type EvalPrompts, evalPromptsOf, evaluateTarget } from '../target-metric';
import { launchTuningRuns, type TuningRun, tuningRunName } from '../tuning-runs';
import { finite } from './curves-summary';
import { formatValue } from './format';
import { TuningCurveSummary } from './tuning-summary';

const inputs = {
  model: { kind: 'model-dir', description: 'the model every run starts from' },
  train: { kind: 'arrow', schema: TextsTable, description: 'training texts of the task (e.g. flipped-verb sentences)' },
  prompts: { kind: 'arrow', schema: PromptsTable, description: "the task's prompts: circuit-tuning discovers on its train split" },
  eval: { kind: 'arrow', schema: PromptsTable, optional: true, description: 'evaluation prompts (default: `prompts`), scored on `evalSplit`' },
  dev: { kind: 'arrow', schema: TextsTable, optional: true, description: 'held-out texts for the runs’ evaluation loss' },
} as const;

const outputs = {
  curve: { kind: 'arrow', schema: TuningCurveTable, description: 'target metric per run: circuit-tuning at each top-N, full fine-tuning, base' },
  nodes: { kind: 'arrow', schema: TuningNodeStepsTable, description: 'per circuit-tuning run and node: share of logged steps in the circuit' },
  summary: { kind: 'json', schema: TuningCurveSummary, description: 'base and full levels, the knee (gain share and Kneedle)' },
  svg: { kind: 'file', fileName: 'tuning-curve.svg', optional: true, description: 'the tuning curve with full fine-tuning, the base model and the knee' },
  png: { kind: 'file', fileName: 'tuning-curve.png', optional: true, description: 'the same as PNG' },
  nodes_svg: { kind: 'file', fileName: 'tuning-nodes.svg', optional: true, description: 'heat map: top-N × node, share of training steps in the circuit' },
  nodes_png: { kind: 'file', fileName: 'tuning-nodes.png', optional: true, description: 'the same as PNG' },
} as const;

type TuningContext = StageContext<TuningCurveConfig, typeof inputs, typeof outputs>;

/** Where a tuning curve's training runs live, inside its stage directory. */
export const TUNING_RUNS_DIR = 'runs';

/**
 * `redundancy:tuning-curve` — the tuning curve (docs/method.md §3): circuit-tuning with top-N edges for
 * N on a grid, and full fine-tuning, each a `train:*` stage run in its own directory under `runs/`
 * with its own manifest (rerunning reuses finished runs and resumes killed ones); the target metric
 * of every model on the evaluation prompts; and the knee.
 */
export const tuningCurveStage = defineStage({
  slot: 'redundancy',
  variant: 'tuning-curve',
  // Version 2: its training runs use the runtime's crossEntropyRows loss. Version 3: their
  // per-step discovery scores at every position by default (discovery's DEFAULT_SCORED_POSITIONS).
  // Version 4: their default parameterMapping trains an MLP by role and b_O with its layer's heads.
  version: 4,
  description: 'Circuit-tuning at each top-N of a grid against full fine-tuning: the tuning curve and its knee (node-level intrinsic dimension).',
  config: TuningCurveConfig,
  inputs,
  outputs,
  run: (ctx) => runTuningCurve(ctx as TuningContext),
});

async function runTuningCurve(ctx: TuningContext) {
  const { config } = ctx;
  await ensureBackend();
  const stageDir = dirname(ctx.output('curve'));
  // The evaluation prompts first: a wrong split fails before hours of training.
  const evalSource = ctx.inputs.eval ?? ctx.inputs.prompts;
  const evalTable = await readArrowTable(evalSource, PromptsTable);
  const evalPrompts = evalPromptsOf(evalTable.columns, { split: config.evalSplit, task: config.evalTask, limit: config.evalLimit, source: evalSource });
  const modelConfig = await readModelConfig(ctx.inputs.model);
  const graph = buildGraph({ nLayers: modelConfig.nLayers, nHeads: modelConfig.nHeads }, { includeInputAndLogits: config.training.discovery.graph === 'full' });
  // A grid point above the graph's size trains the whole graph (the default grid reaches 1,000
  // edges; the embedded model has 479): legitimate, but said (issue 14, finding 9). The summary
  // records edgesTotal beside each point's topN.
  const above = config.topN.filter((n) => n > graph.edgeCount);
  if (above.length > 0) {
    ctx.logger.warn(`top-N ${above.join(', ')} above the graph's ${graph.edgeCount} edges: those runs keep every edge`, { topN: above, edges: graph.edgeCount });
  }

  const progress = ctx.progress('training runs', config.topN.length + (config.includeFull ? 1 : 0));
  const runs = await launchTuningRuns({
    runsDir: join(stageDir, TUNING_RUNS_DIR),
    inputs: { model: ctx.inputs.model, train: ctx.inputs.train, prompts: ctx.inputs.prompts, dev: ctx.inputs.dev },
    config,
    seed: ctx.seed,
    signal: ctx.signal,
    reporter: forwardTo(ctx),
    backend: backendInfo(),
    onRun: (index, _count, run) => {
      progress.update(index);
      ctx.logger.info(`run ${index + 1}: ${tuningRunName(run.topN)}`);
    },
  });
  progress.done();

  ctx.logger.info('evaluating the runs', { prompts: evalPrompts.prompts.length, metric: config.metric });
  const base = await evaluateDir(ctx.inputs.model, evalPrompts, config);
  const measured = [];
  for (const run of runs) {
    ctx.signal.throwIfAborted();
    measured.push({ run, score: await evaluateDir(run.outputs.model!, evalPrompts, config), log: await trainStats(run.outputs.train_log!) });
  }
  const full = measured.find((m) => m.run.run === 'full');
  const tuned = measured.filter((m) => m.run.run === 'circuit-tuning').sort((a, b) => a.run.topN! - b.run.topN!);
  const fullGain = full === undefined ? Number.NaN : full.score.metric - base.metric;
  const knee = tuningKnee(
    tuned.map((m) => ({ n: m.run.topN!, metric: m.score.metric })),
    { base: base.metric, full: full?.score.metric ?? Number.NaN, share: config.kneeShare },
  );

  // The table: base, the grid in order, full.
  const rows = [
    { run: 'base', topN: null, score: base, log: undefined, dir: '' },
    ...tuned.map((m) => ({ run: 'circuit-tuning', topN: m.run.topN, score: m.score, log: m.log, dir: relative(stageDir, m.run.stageDir) })),
    ...(full ? [{ run: 'full', topN: null, score: full.score, log: full.log, dir: relative(stageDir, full.run.stageDir) }] : []),
  ];
  await writeArrowTable(
    ctx.output('curve'),
    TuningCurveTable,
    {
      run: rows.map((r) => r.run),
      top_n: rows.map((r) => r.topN),
      metric: rows.map((r) => r.score.metric),
      gain: rows.map((r) => r.score.metric - base.metric),
      relative_gain: rows.map((r) => (fullGain === 0 ? Number.NaN : (r.score.metric - base.metric) / fullGain)),
      logit_diff: rows.map((r) => r.score.logitDiff),
      accuracy: rows.map((r) => r.score.accuracy),
      trainable_parameters: rows.map((r) => r.log?.trainableParameters ?? null),
      circuit_edges: rows.map((r) => r.log?.circuitEdges ?? null),
      circuit_nodes: rows.map((r) => r.log?.circuitNodes ?? null),
      final_loss: rows.map((r) => r.log?.finalLoss ?? null),
      stage_dir: rows.map((r) => r.dir),
    },
    { producer: ctx.producer, extra: { 'ct.redundancy.metric': config.metric, 'ct.redundancy.eval_split': config.evalSplit } },
  );

  // Per run and node: share of logged steps in the circuit.
  const nodeNames = allNodeNames(graph);
  const perRun = [];
  for (const m of tuned) {
    const log = await readArrowTable(m.run.outputs.circuit_log!, CircuitLogTable);
    perRun.push({ topN: m.run.topN!, ...stepFrequency(log.columns.step, log.columns.edge) });
  }
  const nodeRows = perRun.flatMap((r) => nodeNames.map((node) => ({ topN: r.topN, node, frequency: r.frequency.get(node) ?? 0, steps: r.steps })));
  const coordinates = nodeRows.map((r) => nodeCoordinates(r.node, graph.shape.nLayers));
  await writeArrowTable(
    ctx.output('nodes'),
    TuningNodeStepsTable,
    {
      top_n: Int32Array.from(nodeRows, (r) => r.topN),
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
    base: finite(base.metric),
    full: full === undefined ? null : finite(full.score.metric),
    points: tuned.map((m) => ({ topN: m.run.topN!, metric: finite(m.score.metric), relativeGain: finite((m.score.metric - base.metric) / fullGain) })),
    knee: { nShare: knee.nShare, share: knee.share, kneedle: knee.kneedle, kneedleStrength: knee.kneedleStrength === null ? null : finite(knee.kneedleStrength) },
    edgesTotal: graph.edgeCount,
    runs: runs.map((r) => ({ name: tuningRunName(r.topN), stageDir: relative(stageDir, r.stageDir) })),
  };
  await writeJsonAtomic(ctx.output('summary'), summary);
  await drawTuning(ctx, summary, tuned, perRun, componentNodes(graph));
  return {
    summary: {
      base: summary.base,
      full: summary.full,
      kneeShare: knee.nShare,
      kneedle: knee.kneedle,
      runs: runs.length,
      reusedRuns: runs.filter((r) => r.cached).length,
    },
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

/** The runs' log lines and progress, shown through this stage's own logger and progress. */
function forwardTo(ctx: TuningContext): StageReporter {
  const handles = new Map<string, ReturnType<TuningContext['progress']>>();
  return (event) => {
    if (event.type === 'log') {
      if (event.level !== 'debug') ctx.logger[event.level](`[${event.stage}] ${event.message}`, event.fields);
      return;
    }
    const key = `${event.stage} ${event.label}`;
    let handle = handles.get(key);
    if (handle === undefined) {
      handle = ctx.progress(key, event.total);
      handles.set(key, handle);
    }
    if (event.done) handle.done(event.fields);
    else handle.update(event.completed, event.fields);
  };
}

async function drawTuning(
  ctx: TuningContext,
  summary: TuningCurveSummary,
  tuned: { run: TuningRun; score: { metric: number } }[],
  perRun: { topN: number; frequency: Map<string, number>; steps: number }[],
  components: string[],
) {
  const { config } = ctx;
  if (!config.draw.svg && !config.draw.png) return;
  const paths = (svg: 'svg' | 'nodes_svg', png: 'png' | 'nodes_png') => ({ svg: config.draw.svg ? ctx.output(svg) : undefined, png: config.draw.png ? ctx.output(png) : undefined });
  const hLines: ReferenceLine[] = [];
  if (summary.full !== null) hLines.push({ value: summary.full, label: `full fine-tuning ${formatValue(summary.full)}`, colour: '#2ca02c' });
  if (summary.base !== null) hLines.push({ value: summary.base, label: `base model ${formatValue(summary.base)}`, colour: '#7f7f7f' });
  const vLines: ReferenceLine[] = [];
  if (summary.knee.nShare !== null) vLines.push({ value: summary.knee.nShare, label: `N${Math.round(summary.knee.share * 100)} = ${summary.knee.nShare}`, colour: '#d62728' });
  if (summary.knee.kneedle !== null) vLines.push({ value: summary.knee.kneedle, label: `Kneedle knee = ${summary.knee.kneedle}`, colour: '#9467bd' });
  const svg = lineChartSvg({
    title: `Tuning curve: ${config.metric} after circuit-tuning with top-N edges`,
    subtitle: [
      `evaluated on ${summary.evalPrompts} prompts (split ${summary.evalSplit}) · ${config.training.steps} steps per run · graph of ${summary.edgesTotal} edges`,
      `knee: N${Math.round(summary.knee.share * 100)} (share of full fine-tuning's gain) = ${summary.knee.nShare ?? 'not reached'} · Kneedle = ${summary.knee.kneedle ?? 'none'}`,
    ],
    xLabel: 'top-N edges per step',
    yLabel: config.metric,
    xScale: 'log',
    series: [{ name: 'circuit-tuning', points: tuned.map((m) => [m.run.topN!, m.score.metric] as const) }],
    hLines,
    vLines,
  });
  await writeFigure(svg, paths('svg', 'png'), { logger: ctx.logger });
  if (perRun.length === 0) return;
  const heat = heatMapSvg({
    title: 'How often each node is in the circuit during circuit-tuning',
    subtitle: [`share of the logged training steps (every ${config.training.circuitLogEvery} steps) whose circuit contains the node`],
    rowLabels: perRun.map((r) => `top-${r.topN}`),
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
