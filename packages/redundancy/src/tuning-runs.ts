/**
 * The training runs of a tuning curve, read from a pipeline's run index. The grid itself is a
 * pipeline construct (docs/method.md §3): a `foreach` of `train:circuit-tuning` steps over top-N
 * and a `train:full` step, which the pipeline caches, resumes and schedules like any other step;
 * `redundancy:tuning-curve` collects them. This file only reads what those steps recorded.
 */
import { ConfigError } from '@circuit-tuning/contracts';
import type { LoadedRunIndex, RunIndexStep } from '@circuit-tuning/runtime';
import { CircuitTuningConfig } from '@circuit-tuning/training';

/** One training run of a tuning curve, as recorded in the run index. */
export interface TuningRun {
  run: 'circuit-tuning' | 'full';
  /** Edges per step; null for full fine-tuning. */
  topN: number | null;
  /** The pipeline step that trained it. */
  step: string;
  /** The step's directory, relative to the run directory. */
  dir: string;
  /** The trained model, train log and (circuit-tuning) circuit log, absolute. */
  model: string;
  trainLog: string;
  circuitLog: string | null;
  /** Training steps, and (circuit-tuning) steps between logged circuits. */
  steps: number;
  circuitLogEvery: number | null;
  /** The graph circuit-tuning discovered on ('full': with the input and logits nodes). */
  graph: 'full' | 'reference' | null;
  /** Neurons per MLP head when the run split its MLPs into heads (parameterMapping mlp 'heads'), else null. */
  mlpHeadWidth: number | null;
  /** The run's starting model and training texts as recorded (path and sha256), for the checks below. */
  startModel: { path: string; sha256: string } | null;
  trainTexts: { path: string; sha256: string } | null;
}

export interface CollectedTuningRuns {
  /** Circuit-tuning runs by increasing top-N, then full fine-tuning (at most one). */
  tuned: TuningRun[];
  full: TuningRun | null;
  /** Collected steps that are not a training run of the curve (ignored). */
  ignored: string[];
  /** Differences between the runs that make the curve compare more than top-N. */
  warnings: string[];
}

const isStage = (step: RunIndexStep, variant: string) => step.stage.slot === 'train' && step.stage.variant === variant;
const isScratch = (step: RunIndexStep) => (step.config.init as { kind?: unknown } | undefined)?.kind === 'scratch';

/**
 * The circuit-tuning and full fine-tuning runs a run index lists. Every other collected step is
 * ignored (a tuning curve left unwired collects every earlier step), and so is a train:full from
 * scratch. Refused: no circuit-tuning
 * run, a top-N schedule (a curve point has one top-N), two runs at one top-N, two full runs, runs
 * that started from different models; each error names the index file and the steps.
 */
export function collectTuningRuns(loaded: LoadedRunIndex, source: string): CollectedTuningRuns {
  const hint = 'collect the grid explicitly, e.g. `inputs: {runs: {collect: [tune, full]}}` (see fixtures/pipelines/redundancy.yaml)';
  const tuned: TuningRun[] = [];
  const fulls: TuningRun[] = [];
  const ignored: string[] = [];
  for (const step of loaded.index.steps) {
    if (isStage(step, 'circuit-tuning')) tuned.push(runOf(loaded, step, source, 'circuit-tuning'));
    // A train:full from scratch is pre-training (tiny.yaml's `pretrain`), not fine-tuning the base.
    else if (isStage(step, 'full') && !isScratch(step)) fulls.push(runOf(loaded, step, source, 'full'));
    else ignored.push(step.id);
  }
  if (tuned.length === 0) {
    const listed = loaded.index.steps.map((s) => `${s.id} (${s.stage.slot}:${s.stage.variant})`).join(', ') || 'none';
    throw new ConfigError(`${source}: the tuning curve collects no train:circuit-tuning step (collected: ${listed})`, { hint });
  }
  if (fulls.length > 1) throw new ConfigError(`${source}: the tuning curve collects ${fulls.length} train:full steps (${fulls.map((r) => r.step).join(', ')}); it compares against one`, { hint });
  tuned.sort((a, b) => a.topN! - b.topN!);
  for (let i = 1; i < tuned.length; i++) {
    if (tuned[i]!.topN === tuned[i - 1]!.topN) {
      throw new ConfigError(`${source}: steps '${tuned[i - 1]!.step}' and '${tuned[i]!.step}' both train with top-${tuned[i]!.topN}; a tuning curve has one run per top-N`, { hint });
    }
  }
  const all = [...tuned, ...fulls];
  const models = new Set(all.map((r) => r.startModel?.sha256));
  if (models.size > 1) {
    throw new ConfigError(`${source}: the collected runs start from different models (${all.map((r) => `${r.step}: ${r.startModel?.path ?? 'none'}`).join(', ')}); a tuning curve compares top-N from one model`, { hint });
  }
  const warnings: string[] = [];
  const differ = (what: string, value: (r: TuningRun) => unknown) => {
    const values = new Set(all.map((r) => JSON.stringify(value(r))));
    if (values.size > 1) warnings.push(`the runs differ in ${what} (${all.map((r) => `${r.step}: ${JSON.stringify(value(r))}`).join(', ')})`);
  };
  differ('training texts', (r) => r.trainTexts?.path ?? null);
  differ('training steps', (r) => r.steps);
  const graphs = new Set(tuned.map((r) => JSON.stringify([r.graph, r.mlpHeadWidth])));
  if (graphs.size > 1) {
    throw new ConfigError(`${source}: the circuit-tuning runs discover on different graphs (${tuned.map((r) => `${r.step}: ${r.graph}${r.mlpHeadWidth === null ? '' : `, MLP heads of ${r.mlpHeadWidth}`}`).join('; ')}); top-N means a different circuit size on each`, { hint });
  }
  return { tuned, full: fulls[0] ?? null, ignored, warnings };
}

function runOf(loaded: LoadedRunIndex, step: RunIndexStep, source: string, run: TuningRun['run']): TuningRun {
  const output = (port: string): string | null => {
    const record = step.outputs.find((o) => o.port === port);
    return record === undefined ? null : loaded.pathOf(record);
  };
  const required = (port: string): string => {
    const path = output(port);
    if (path === null) throw new ConfigError(`${source}: step '${step.id}' (train:${run}) recorded no '${port}' output`);
    return path;
  };
  const input = (port: string) => {
    const record = step.inputs.find((i) => i.port === port);
    return record === undefined ? null : { path: record.path, sha256: record.sha256 };
  };
  const steps = Number(step.config.steps);
  const common = { step: step.id, dir: step.dir, model: required('model'), trainLog: required('train_log'), steps, startModel: input('model'), trainTexts: input('train') };
  if (run === 'full') return { run, topN: null, circuitLog: null, circuitLogEvery: null, graph: null, mlpHeadWidth: null, ...common };
  // The manifest records the parsed config; parsing again reads it with this version's types.
  const parsed = CircuitTuningConfig.safeParse(step.config);
  if (!parsed.success) throw new ConfigError(`${source}: step '${step.id}' recorded a train:circuit-tuning config this version cannot read (${parsed.error.issues[0]?.message})`);
  const config = parsed.data;
  if (config.topN.end !== undefined && config.topN.end !== config.topN.start) {
    throw new ConfigError(`${source}: step '${step.id}' changes top-N during training (${config.topN.start} → ${config.topN.end}); a tuning curve point trains with one top-N`, {
      hint: 'drop topN.end from the grid steps',
    });
  }
  const mlpHeadWidth = config.parameterMapping.mlp === 'heads' ? config.parameterMapping.mlpHeadWidth : null;
  return { run, topN: config.topN.start, circuitLog: required('circuit_log'), circuitLogEvery: config.circuitLogEvery, graph: config.discovery.graph, mlpHeadWidth, ...common };
}
