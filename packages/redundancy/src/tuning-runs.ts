/**
 * The training runs of a tuning curve, read from a pipeline's run index. The grid itself is a
 * pipeline construct (docs/method.md §3): a `foreach` of `train:circuit-tuning` steps over top-N
 * (or over the rediscovery interval K, config key `every`: the paper's K sweep) and a `train:full`
 * step, which the pipeline caches, resumes and schedules like any other step;
 * `redundancy:tuning-curve` collects them. This file only reads what those steps recorded.
 */
import { ConfigError } from '@circuit-tuning/contracts';
import type { LoadedRunIndex, RunIndexStep } from '@circuit-tuning/runtime';
import { CircuitTuningConfig } from '@circuit-tuning/training';

/** What the circuit-tuning runs of a curve vary: edges per step (top-N) or the rediscovery interval K (`every`). */
export type TuningAxis = 'top-n' | 'every';

const AXIS_WORDS: Record<TuningAxis, { name: string; key: string }> = {
  'top-n': { name: 'top-N', key: 'topN' },
  every: { name: 'rediscovery interval K (every)', key: 'every' },
};

/**
 * Config keys that do not change what a run trains (bookkeeping), left out when the runs are
 * compared; `steps` differs with a warning (below), as it always has.
 */
const BOOKKEEPING_KEYS = new Set(['steps', 'circuitLogEvery', 'checkpointEvery', 'evalEvery', 'evalBatches']);

/** One training run of a tuning curve, as recorded in the run index. */
export interface TuningRun {
  run: 'circuit-tuning' | 'full';
  /** Edges per step; null for full fine-tuning. */
  topN: number | null;
  /** Steps between rediscoveries (K); null for full fine-tuning. */
  every: number | null;
  /** The parsed circuit-tuning config without bookkeeping keys (JSON), to compare runs; null for full. */
  comparable: Record<string, unknown> | null;
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
  /** Circuit-tuning runs by increasing axis value (top-N or K), then full fine-tuning (at most one). */
  tuned: TuningRun[];
  full: TuningRun | null;
  /** Collected steps that are not a training run of the curve (ignored). */
  ignored: string[];
  /** Differences between the runs that make the curve compare more than its axis. */
  warnings: string[];
}

const isStage = (step: RunIndexStep, variant: string) => step.stage.slot === 'train' && step.stage.variant === variant;
const isScratch = (step: RunIndexStep) => (step.config.init as { kind?: unknown } | undefined)?.kind === 'scratch';

/** A circuit-tuning run's value on the curve's axis. */
export function axisValue(run: TuningRun, axis: TuningAxis): number {
  return axis === 'top-n' ? run.topN! : run.every!;
}

/**
 * The circuit-tuning and full fine-tuning runs a run index lists. Every other collected step is
 * ignored (a tuning curve left unwired collects every earlier step), and so is a train:full from
 * scratch. Refused: no circuit-tuning
 * run, a top-N schedule (a curve point has one top-N), two runs at one value of the axis (top-N,
 * or K for the K sweep), two full runs, runs that started from different models, circuit-tuning
 * runs whose configs differ in anything but the axis (and bookkeeping: logging, checkpoints,
 * evaluation; steps only warn); each error names the index file and the steps.
 */
export function collectTuningRuns(loaded: LoadedRunIndex, source: string, axis: TuningAxis = 'top-n'): CollectedTuningRuns {
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
  const words = AXIS_WORDS[axis];
  tuned.sort((a, b) => axisValue(a, axis) - axisValue(b, axis));
  for (let i = 1; i < tuned.length; i++) {
    if (axisValue(tuned[i]!, axis) === axisValue(tuned[i - 1]!, axis)) {
      const what = axis === 'top-n' ? `top-${tuned[i]!.topN}` : `every ${tuned[i]!.every} (K)`;
      throw new ConfigError(`${source}: steps '${tuned[i - 1]!.step}' and '${tuned[i]!.step}' both train with ${what}; a tuning curve has one run per ${words.name}`, { hint });
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
  // Everything but the axis held fixed: otherwise the curve compares more than its axis.
  const reference = tuned[0]!;
  const rest = (run: TuningRun) => {
    const { [words.key]: _axis, ...others } = run.comparable!;
    return others;
  };
  for (const run of tuned.slice(1)) {
    const keys = new Set([...Object.keys(rest(reference)), ...Object.keys(rest(run))]);
    const differing = [...keys].filter((k) => JSON.stringify(rest(reference)[k]) !== JSON.stringify(rest(run)[k])).sort();
    if (differing.length > 0) {
      throw new ConfigError(
        `${source}: steps '${reference.step}' and '${run.step}' differ in ${differing.join(', ')}, not only in ${words.name}; a tuning curve varies its axis alone`,
        { hint: `give the grid's steps one config and vary only ${words.key} (config axis: ${axis})` },
      );
    }
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
  if (run === 'full') return { run, topN: null, every: null, comparable: null, circuitLog: null, circuitLogEvery: null, graph: null, mlpHeadWidth: null, ...common };
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
  const comparable = Object.fromEntries(Object.entries(config).filter(([key]) => !BOOKKEEPING_KEYS.has(key)));
  return { run, topN: config.topN.start, every: config.every, comparable, circuitLog: required('circuit_log'), circuitLogEvery: config.circuitLogEvery, graph: config.discovery.graph, mlpHeadWidth, ...common };
}
