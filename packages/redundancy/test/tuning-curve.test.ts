/**
 * What redundancy:tuning-curve takes from a run index: the circuit-tuning runs by top-N and the
 * full fine-tuning run, and the refusals. The whole stage on real training runs, cached and
 * resumed by the pipeline, is tested in packages/pipeline/test/tuning-curve.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@circuit-tuning/contracts';
import { type LoadedRunIndex, type RunIndexStep, silentReporter } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectTuningRuns } from '../src/index';
import { runTuningCurve } from '../src/stages';
import { type Fixture, fixture } from './fixtures';

const sha = (c: string) => c.repeat(64);
const record = (port: string, path: string, hash = sha('a')) => ({ port, path, kind: 'file' as const, sha256: hash, bytes: 1 });

function trainStep(id: string, variant: 'circuit-tuning' | 'full' | 'lora', config: Record<string, unknown>, model = sha('a')): RunIndexStep {
  return {
    id,
    stage: { slot: 'train', variant, version: 1 },
    seed: 1,
    config: { steps: 10, ...config },
    configHash: sha('c'),
    dir: id,
    inputs: [record('model', 'load/model', model), record('train', 'tasks/train.arrow', sha('b'))],
    outputs: [record('model', `${id}/model`), record('train_log', `${id}/train_log.arrow`), ...(variant === 'circuit-tuning' ? [record('circuit_log', `${id}/circuit_log.arrow`)] : [])],
  };
}

const other: RunIndexStep = { ...trainStep('tasks', 'full', {}), stage: { slot: 'tasks', variant: 'generate', version: 1 }, inputs: [], outputs: [] };

function loaded(steps: RunIndexStep[]): LoadedRunIndex {
  return { index: { schema: 'ct.run.index', version: 1, pipeline: 'p', seed: 1, root: '..', steps }, runDir: '/run', pathOf: (r) => join('/run', r.path) };
}

const collect = (steps: RunIndexStep[]) => collectTuningRuns(loaded(steps), 'index.json');
const refusal = (steps: RunIndexStep[]): string => {
  try {
    collect(steps);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return `${(error as ConfigError).message} | ${(error as ConfigError).hint}`;
  }
  throw new Error('expected a refusal');
};

describe('collectTuningRuns', () => {
  it('takes the circuit-tuning runs by increasing top-N and the full run, ignoring the other steps', () => {
    const runs = collect([
      other,
      trainStep('tune-top-30', 'circuit-tuning', { topN: { start: 30 } }),
      trainStep('pretrain', 'full', { init: { kind: 'scratch' } }),
      trainStep('full', 'full', { init: { kind: 'pretrained' } }),
      trainStep('tune-top-10', 'circuit-tuning', { topN: { start: 10 }, circuitLogEvery: 2 }),
      trainStep('lora', 'lora', {}),
    ]);
    expect(runs.tuned.map((r) => [r.step, r.topN, r.circuitLogEvery, r.graph, r.mlpHeadWidth])).toEqual([
      ['tune-top-10', 10, 2, 'full', null],
      ['tune-top-30', 30, 10, 'full', null],
    ]);
    expect(runs.tuned[0]).toMatchObject({ dir: 'tune-top-10', model: '/run/tune-top-10/model', circuitLog: '/run/tune-top-10/circuit_log.arrow', steps: 10 });
    expect(runs.full).toMatchObject({ step: 'full', topN: null, circuitLog: null });
    expect(runs.ignored).toEqual(['tasks', 'pretrain', 'lora']);
    expect(runs.warnings).toEqual([]);
  });

  it('refuses what would make the curve compare more than top-N, naming the index and the steps', () => {
    expect(refusal([other, trainStep('full', 'full', {})])).toMatch(/index\.json: the tuning curve collects no train:circuit-tuning step \(collected: tasks \(tasks:generate\), full \(train:full\)\).*collect: \[tune, full\]/);
    expect(refusal([trainStep('a', 'circuit-tuning', { topN: { start: 10 } }), trainStep('b', 'circuit-tuning', { topN: { start: 10 } })])).toMatch(
      /steps 'a' and 'b' both train with top-10/,
    );
    expect(refusal([trainStep('a', 'circuit-tuning', { topN: { start: 10 } }), trainStep('f1', 'full', {}), trainStep('f2', 'full', {})])).toMatch(/collects 2 train:full steps \(f1, f2\)/);
    expect(refusal([trainStep('a', 'circuit-tuning', { topN: { start: 100, end: 10 } })])).toMatch(/step 'a' changes top-N during training \(100 → 10\)/);
    expect(refusal([trainStep('a', 'circuit-tuning', { topN: { start: 10 } }), trainStep('b', 'circuit-tuning', { topN: { start: 20 } }, sha('d'))])).toMatch(
      /start from different models/,
    );
    expect(refusal([trainStep('a', 'circuit-tuning', { topN: { start: 10 }, every: 'often' })])).toMatch(/step 'a' recorded a train:circuit-tuning config this version cannot read/);
    expect(refusal([trainStep('a', 'circuit-tuning', { topN: { start: 10 } }), trainStep('b', 'circuit-tuning', { topN: { start: 20 }, parameterMapping: { mlp: 'heads' } })])).toMatch(
      /discover on different graphs \(a: full; b: full, MLP heads of 64\)/,
    );
  });

  it('refuses runs that differ in more than the axis: top-N runs with different K, learning rates or discovery methods', () => {
    expect(refusal([trainStep('a', 'circuit-tuning', { topN: { start: 10 }, every: 5 }), trainStep('b', 'circuit-tuning', { topN: { start: 20 }, every: 1 })])).toMatch(
      /steps 'a' and 'b' differ in every, not only in top-N.*vary only topN \(config axis: top-n\)/,
    );
    expect(
      refusal([
        trainStep('a', 'circuit-tuning', { topN: { start: 10 }, learningRate: 0.01 }),
        trainStep('b', 'circuit-tuning', { topN: { start: 20 }, discovery: { method: 'eap-ig' }, learningRate: 0.02 }),
      ]),
    ).toMatch(/differ in discovery, learningRate, not only in top-N/);
  });

  it('the K sweep (axis every): runs by increasing K at one top-N, one run per K', () => {
    const sweep = collectTuningRuns(
      loaded([
        trainStep('k-8', 'circuit-tuning', { topN: { start: 30 }, every: 8 }),
        trainStep('k-1', 'circuit-tuning', { topN: { start: 30 }, every: 1 }),
        trainStep('full', 'full', {}),
      ]),
      'index.json',
      'every',
    );
    expect(sweep.tuned.map((r) => [r.step, r.every, r.topN])).toEqual([
      ['k-1', 1, 30],
      ['k-8', 8, 30],
    ]);
    expect(sweep.full).toMatchObject({ every: null });
    const refuse = (steps: RunIndexStep[]) => () => collectTuningRuns(loaded(steps), 'index.json', 'every');
    expect(refuse([trainStep('a', 'circuit-tuning', { topN: { start: 30 }, every: 4 }), trainStep('b', 'circuit-tuning', { topN: { start: 30 }, every: 4 })])).toThrow(
      /steps 'a' and 'b' both train with every 4 \(K\); a tuning curve has one run per rediscovery interval K/,
    );
    expect(refuse([trainStep('a', 'circuit-tuning', { topN: { start: 30 }, every: 1 }), trainStep('b', 'circuit-tuning', { topN: { start: 40 }, every: 4 })])).toThrow(
      /steps 'a' and 'b' differ in topN, not only in rediscovery interval K/,
    );
    // The default K is 1: two runs that leave it out train at one K.
    expect(refuse([trainStep('a', 'circuit-tuning', { topN: { start: 30 } }), trainStep('b', 'circuit-tuning', { topN: { start: 30 }, every: 1 })])).toThrow(/both train with every 1/);
  });

  it('warns when the runs differ in more than top-N', () => {
    const runs = collect([trainStep('a', 'circuit-tuning', { topN: { start: 10 } }), trainStep('b', 'circuit-tuning', { topN: { start: 20 }, steps: 50 })]);
    expect(runs.warnings).toEqual(['the runs differ in training steps (a: 10, b: 50)']);
  });
});

describe('redundancy:tuning-curve', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await fixture('ct-tuning-');
  });
  afterAll(async () => {
    await rm(fx.dir, { recursive: true, force: true });
  });

  it('refuses a file that is not a run index, and an index without runs, before evaluating anything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ct-tuning-index-'));
    const notIndex = join(dir, 'not-index.json');
    await writeFile(notIndex, '{"steps": []}');
    const empty = join(dir, 'empty.json');
    await writeFile(empty, JSON.stringify(loaded([]).index));
    const run = (runIndexPath: string) => runTuningCurve({ runIndexPath, modelDir: fx.modelDir, promptsPath: fx.prompts, stageDir: join(dir, 'stage'), config: {}, reporter: silentReporter });
    await expect(run(notIndex)).rejects.toThrow(/not-index\.json \(port 'runs'\) does not match its JSON schema/);
    await expect(run(empty)).rejects.toThrow(/empty\.json: the tuning curve collects no train:circuit-tuning step \(collected: none\)/);
    await rm(dir, { recursive: true, force: true });
  });
});
