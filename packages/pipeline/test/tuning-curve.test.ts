/**
 * The tuning curve as a pipeline construct (docs/method.md §3, issue 17): a `foreach` of
 * train:circuit-tuning steps over top-N and a train:full step, collected by
 * redundancy:tuning-curve. Each run is a step: cached, resumed after an abort, and a grid point
 * added later trains alone.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StageManifest } from '@circuit-tuning/contracts';
import { TuningCurveSummary, TuningCurveTable, TuningNodeStepsTable } from '@circuit-tuning/redundancy';
import { readArrowTable } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toyWorldPipeline } from './toy-world';
import { builtinRegistry, loadPipeline, type PipelineDisplay, runPipeline } from '../src/index';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-tuning-curve-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * The embedded world at toy sizes, a 2-layer model pre-trained for a few steps, and the curve over
 * `grid` (top-N values; with `axis: 'every'` rediscovery intervals K at top-20).
 */
const pipeline = (grid: number[], curveInputs = '{ runs: { collect: [tune, full] }, model: pretrain.model, prompts: tasks.sv_disagreement }', tuneExtra = '', axis: 'top-n' | 'every' = 'top-n') => toyWorldPipeline('tuning-curve-test', `  tune:
    stage: train:circuit-tuning
    foreach:
${grid.map((n) => (axis === 'top-n' ? `      top-${n}: { topN: { start: ${n} } }` : `      k-${n}: { every: ${n}, topN: { start: 20 } }`)).join('\n')}
    inputs: { model: pretrain.model, train: tasks.sv_disagreement_train, prompts: tasks.sv_disagreement }
    config:
      <<: &training { steps: 6, batchSize: 4, seqLen: 32, learningRate: 0.01, checkpointEvery: 2 }
      discovery: { prompts: 4 }
      circuitLogEvery: 1
      emptyCircuit: skip-step${tuneExtra}
  full:
    stage: train:full
    inputs: { model: pretrain.model, train: tasks.sv_disagreement_train }
    config: *training
  tuning-curve:
    stage: redundancy:tuning-curve
    inputs: ${curveInputs}
    config: { evalSplit: test, axis: ${axis}, draw: { png: false } }
`);

async function run(text: string, runDir: string, options: { display?: PipelineDisplay; signal?: AbortSignal } = {}) {
  const path = join(dir, 'tuning.yaml');
  await writeFile(path, text);
  return runPipeline(await loadPipeline(path, { registry: builtinRegistry() }), { runDir, ...options });
}

const statuses = (result: Awaited<ReturnType<typeof run>>) => Object.fromEntries(result.steps.map((s) => [s.id, s.status]));
const quiet: PipelineDisplay = { start() {}, stepStart() {}, event() {}, stepEnd() {}, finish() {}, warn() {} };

describe('the tuning curve in a pipeline', () => {
  it('collects one circuit-tuning step per top-N and full fine-tuning, evaluates them and finds the knee', async () => {
    const runDir = join(dir, 'run');
    const result = await run(pipeline([10, 30]), runDir);
    expect(result.status, JSON.stringify(result.steps.map((s) => s.error))).toBe('succeeded');
    const curveStep = result.steps.find((s) => s.id === 'tuning-curve')!;
    const curve = await readArrowTable(curveStep.outputs.curve!, TuningCurveTable);
    const c = curve.columns;
    expect(c.run).toEqual(['base', 'circuit-tuning', 'circuit-tuning', 'full']);
    expect(c.top_n).toEqual([null, 10, 30, null]);
    expect(c.step_dir).toEqual(['', 'tune-top-10', 'tune-top-30', 'full']);
    expect(c.gain[0]).toBe(0);
    expect(c.relative_gain[3]).toBeCloseTo(1, 9);
    expect(c.metric.every((m) => Number.isFinite(m))).toBe(true);
    // Circuit-tuning trains a fraction of what full fine-tuning trains.
    expect(c.trainable_parameters[1]!).toBeLessThan(c.trainable_parameters[3]!);
    expect(c.circuit_edges[1]!).toBeLessThanOrEqual(10);
    expect(c.circuit_edges[3]).toBeNull();

    const nodes = await readArrowTable(curveStep.outputs.nodes!, TuningNodeStepsTable);
    expect(new Set(nodes.columns.top_n)).toEqual(new Set([10, 30]));
    expect(nodes.columns.steps.every((s) => s === 6)).toBe(true);
    expect(nodes.columns.step_frequency.every((f) => f >= 0 && f <= 1)).toBe(true);

    const summary = TuningCurveSummary.parse(JSON.parse(await readFile(curveStep.outputs.summary!, 'utf8')));
    expect(summary.points.map((p) => p.topN)).toEqual([10, 30]);
    expect(summary.base).toBeCloseTo(c.metric[0]!, 9);
    expect(summary.full).toBeCloseTo(c.metric[3]!, 9);
    expect(summary.runs).toEqual([
      { name: 'tune-top-10', stageDir: 'tune-top-10' },
      { name: 'tune-top-30', stageDir: 'tune-top-30' },
      { name: 'full', stageDir: 'full' },
    ]);
    expect(await readFile(curveStep.outputs.svg!, 'utf8')).toContain('Tuning curve');
    expect(curveStep.outputs.png).toBeUndefined();
    // The stage's log says what it ignored: nothing here, the grid was collected explicitly.
    expect(await readFile(join(runDir, 'tuning-curve', 'log.jsonl'), 'utf8')).not.toMatch(/ignored/);
  });

  it('a grid point added later trains alone; an aborted run resumes; nothing changed, everything is reused', async () => {
    const runDir = join(dir, 'run');
    const controller = new AbortController();
    const abortMidRun: PipelineDisplay = {
      ...quiet,
      event(step, event) {
        if (step.id === 'tune-top-60' && event.type === 'progress' && event.completed >= 3) controller.abort(new Error('killed mid-run'));
      },
    };
    const aborted = await run(pipeline([10, 30, 60]), runDir, { display: abortMidRun, signal: controller.signal });
    expect(aborted.status).toBe('aborted');
    expect(statuses(aborted)).toMatchObject({ 'tune-top-10': 'cached', 'tune-top-30': 'cached' });
    const killed = StageManifest.parse(JSON.parse(await readFile(join(runDir, 'tune-top-60', 'manifest.json'), 'utf8')));
    expect(killed.status).not.toBe('succeeded');

    const resumed = await run(pipeline([10, 30, 60]), runDir, { display: quiet });
    expect(statuses(resumed)).toEqual({
      tasks: 'cached',
      pretrain: 'cached',
      'tune-top-10': 'cached',
      'tune-top-30': 'cached',
      'tune-top-60': 'succeeded',
      full: 'cached',
      'tuning-curve': 'succeeded',
    });
    // The killed run picked up from its checkpoint rather than starting over.
    expect(await readFile(join(runDir, 'tune-top-60', 'log.jsonl'), 'utf8')).toMatch(/resum/i);
    const curve = await readArrowTable(resumed.steps.find((s) => s.id === 'tuning-curve')!.outputs.curve!, TuningCurveTable);
    expect(curve.columns.top_n).toEqual([null, 10, 30, 60, null]);

    const again = await run(pipeline([10, 30, 60]), runDir, { display: quiet });
    expect(new Set(Object.values(statuses(again)))).toEqual(new Set(['cached']));
  });

  it('a curve left unwired collects every earlier step and takes the training runs from it', async () => {
    const runDir = join(dir, 'unwired');
    const result = await run(pipeline([10], '{ model: pretrain.model, prompts: tasks.sv_disagreement }'), runDir, { display: quiet });
    expect(result.status, JSON.stringify(result.steps.map((s) => s.error))).toBe('succeeded');
    const curve = await readArrowTable(result.steps.find((s) => s.id === 'tuning-curve')!.outputs.curve!, TuningCurveTable);
    expect(curve.columns.step_dir).toEqual(['', 'tune-top-10', 'full']);
    // Pre-training from scratch is a train:full step too, but not fine-tuning: ignored, and said.
    expect(await readFile(join(runDir, 'tuning-curve', 'log.jsonl'), 'utf8')).toMatch(/ignored: tasks, pretrain/);
  });

  it('the K sweep: one run per rediscovery interval at one top-N, gain and trainable fraction against K, drawn', async () => {
    const runDir = join(dir, 'k-sweep');
    const result = await run(pipeline([1, 2, 4], undefined, '', 'every'), runDir, { display: quiet });
    expect(result.status, JSON.stringify(result.steps.map((s) => s.error))).toBe('succeeded');
    const curveStep = result.steps.find((s) => s.id === 'tuning-curve')!;
    const c = (await readArrowTable(curveStep.outputs.curve!, TuningCurveTable)).columns;
    expect(c.run).toEqual(['base', 'circuit-tuning', 'circuit-tuning', 'circuit-tuning', 'full']);
    expect(c.every).toEqual([null, 1, 2, 4, null]);
    expect(c.top_n).toEqual([null, 20, 20, 20, null]);
    expect(c.step_dir).toEqual(['', 'tune-k-1', 'tune-k-2', 'tune-k-4', 'full']);
    // The trainable fraction is the run's mean trainable entries over full fine-tuning's.
    expect(c.trainable_fraction[4]).toBe(1);
    for (const i of [1, 2, 3]) {
      expect(c.trainable_fraction[i]!).toBeCloseTo(c.trainable_parameters[i]! / c.trainable_parameters[4]!, 12);
      expect(c.trainable_fraction[i]!).toBeGreaterThan(0);
      expect(c.trainable_fraction[i]!).toBeLessThan(1);
    }
    // Rediscovering less often trains other circuits: the runs are not copies of one another.
    expect(new Set([c.final_loss[1], c.final_loss[2], c.final_loss[3]]).size).toBeGreaterThan(1);
    const summary = TuningCurveSummary.parse(JSON.parse(await readFile(curveStep.outputs.summary!, 'utf8')));
    expect(summary.axis).toBe('every');
    expect(summary.points.map((p) => [p.x, p.every, p.topN])).toEqual([
      [1, 1, 20],
      [2, 2, 20],
      [4, 4, 20],
    ]);
    expect(summary.knee.nShare).toBeNull();
    const nodes = await readArrowTable(curveStep.outputs.nodes!, TuningNodeStepsTable);
    expect(new Set(nodes.columns.every)).toEqual(new Set([1, 2, 4]));
    const figure = await readFile(curveStep.outputs.svg!, 'utf8');
    expect(figure).toContain('K sweep');
    expect(figure).toContain('rediscovery interval K');
    expect(figure).toContain('full fine-tuning');
    expect(figure).toContain('base model');
    expect(await readFile(curveStep.outputs.shares_svg!, 'utf8')).toContain('trainable fraction');
    expect(await readFile(curveStep.outputs.nodes_svg!, 'utf8')).toContain('K = 4');

    // Two runs at one K are refused, naming both steps.
    const twice = pipeline([1, 2], undefined, '', 'every').replace('k-2: { every: 2,', 'k-2: { every: 1,');
    const refused = await run(twice, join(dir, 'k-twice'), { display: quiet });
    expect(refused.status).toBe('failed');
    expect(JSON.stringify(refused.steps.find((s) => s.id === 'tuning-curve')!.error)).toMatch(/'tune-k-1' and 'tune-k-2' both train with every 1 \(K\)/);
  });

  it('runs that split MLPs into heads get their node view on the graph of MLP heads', async () => {
    const runDir = join(dir, 'mlp-heads');
    const result = await run(pipeline([10], undefined, '\n      parameterMapping: { mlp: heads, mlpHeadWidth: 16 }'), runDir, { display: quiet });
    expect(result.status, JSON.stringify(result.steps.map((s) => s.error))).toBe('succeeded');
    const nodes = await readArrowTable(result.steps.find((s) => s.id === 'tuning-curve')!.outputs.nodes!, TuningNodeStepsTable);
    // d_model 16 → MLPs of 64 neurons → 4 heads of 16 per layer.
    expect(nodes.columns.node).toContain('m1.n3');
    expect(nodes.columns.node).not.toContain('m1');
    expect(nodes.columns.step_frequency.some((f) => f > 0)).toBe(true);
  });
});
