import { existsSync } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StageManifest } from '@circuit-tuning/contracts';
import { readArrowTable, type StageReporter, silentReporter } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TuningCurveSummary, TuningCurveTable, TuningNodeStepsTable } from '../src/index';
import { runTuningCurve } from '../src/stages';
import { type Fixture, fixture } from './fixtures';

const training = { steps: 3, batchSize: 4, seqLen: 8, learningRate: 0.1, discovery: { prompts: 8, positions: 'all' }, circuitLogEvery: 1 };
const config = (topN: number[], extra: Record<string, unknown> = {}) => ({ topN, training, draw: { png: false }, ...extra });

let fx: Fixture;
beforeAll(async () => {
  fx = await fixture('ct-tuning-');
});
afterAll(async () => {
  await rm(fx.dir, { recursive: true, force: true });
});

const stageDir = () => join(fx.dir, 'tuning');
const run = (raw: unknown, options: { reporter?: StageReporter; signal?: AbortSignal; train?: string; stage?: string } = {}) =>
  runTuningCurve({
    modelDir: fx.modelDir,
    trainPath: options.train ?? fx.texts,
    promptsPath: fx.prompts,
    stageDir: options.stage ?? stageDir(),
    config: raw,
    seed: 2,
    reporter: options.reporter ?? silentReporter,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });

const manifestOf = async (dir: string) => StageManifest.parse(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));

describe('redundancy:tuning-curve', () => {
  it('runs circuit-tuning at each top-N and full fine-tuning, each in its own stage directory, and finds the knee', async () => {
    const result = await run(config([10, 30]));
    expect(result.manifest.summary).toMatchObject({ runs: 3, reusedRuns: 0 });
    const curve = await readArrowTable(result.outputs.curve!, TuningCurveTable);
    const c = curve.columns;
    expect(c.run).toEqual(['base', 'circuit-tuning', 'circuit-tuning', 'full']);
    expect(c.top_n).toEqual([null, 10, 30, null]);
    expect(c.stage_dir).toEqual(['', 'runs/circuit-tuning-top-10', 'runs/circuit-tuning-top-30', 'runs/full']);
    expect(c.gain[0]).toBe(0);
    expect(c.relative_gain[3]).toBeCloseTo(1, 9);
    // Circuit-tuning trains a fraction of what full fine-tuning trains.
    expect(c.trainable_parameters[1]!).toBeLessThan(c.trainable_parameters[3]!);
    expect(c.circuit_edges[1]!).toBeLessThanOrEqual(10);
    expect(c.circuit_edges[3]).toBeNull();

    for (const [name, id, topN] of [
      ['circuit-tuning-top-10', 'circuit-tuning', 10],
      ['full', 'full', undefined],
    ] as const) {
      const manifest = await manifestOf(join(stageDir(), 'runs', name));
      expect(manifest.status).toBe('succeeded');
      expect(manifest.stage).toMatchObject({ slot: 'train', variant: id });
      expect(manifest.config).toMatchObject({ steps: 3, learningRate: 0.1 });
      if (topN !== undefined) expect(manifest.config).toMatchObject({ topN: { start: topN } });
    }

    const nodes = await readArrowTable(result.outputs.nodes!, TuningNodeStepsTable);
    expect(nodes.numRows).toBe(2 * 12);
    expect(nodes.columns.steps.every((s) => s === 3)).toBe(true);
    expect(nodes.columns.step_frequency.every((f) => f >= 0 && f <= 1)).toBe(true);

    const summary = TuningCurveSummary.parse(JSON.parse(await readFile(result.outputs.summary!, 'utf8')));
    expect(summary.points.map((p) => p.topN)).toEqual([10, 30]);
    expect(summary.base).toBeCloseTo(c.metric[0]!, 9);
    expect(summary.full).toBeCloseTo(c.metric[3]!, 9);
    expect(summary.edgesTotal).toBe(110);
    expect(summary.knee.share).toBe(0.9);
    expect(await readFile(result.outputs.svg!, 'utf8')).toContain('Tuning curve');
    expect(result.outputs.png).toBeUndefined();
  });

  it('reuses finished runs when the grid grows, and picks up after an abort', async () => {
    const controller = new AbortController();
    const abortInNewRun: StageReporter = (event) => {
      const text = event.type === 'log' ? event.message : event.label;
      if (text.includes('circuit-tuning-top-60') && text.includes('train:')) controller.abort(new Error('killed mid-run'));
    };
    await expect(run(config([10, 30, 60]), { reporter: abortInNewRun, signal: controller.signal })).rejects.toThrow(/killed mid-run/);
    const finished = await stat(join(stageDir(), 'runs', 'circuit-tuning-top-10', 'manifest.json'));
    expect((await manifestOf(join(stageDir(), 'runs', 'circuit-tuning-top-60'))).status).not.toBe('succeeded');

    const resumed = await run(config([10, 30, 60]));
    expect(resumed.cached).toBe(false);
    expect(resumed.manifest.summary).toMatchObject({ runs: 4, reusedRuns: 3 });
    // The finished runs were not touched.
    expect((await stat(join(stageDir(), 'runs', 'circuit-tuning-top-10', 'manifest.json'))).mtimeMs).toBe(finished.mtimeMs);
    const curve = await readArrowTable(resumed.outputs.curve!, TuningCurveTable);
    expect(curve.columns.top_n).toEqual([null, 10, 30, 60, null]);
    // Nothing changed: the whole stage is reused.
    expect((await run(config([10, 30, 60]))).cached).toBe(true);
  });

  it('says when a grid point is above the graph edge count (those runs keep every edge)', async () => {
    const warnings: string[] = [];
    const reporter: StageReporter = (event) => {
      if (event.type === 'log' && event.level === 'warn') warnings.push(event.message);
    };
    await run(config([10, 200], { includeFull: false }), { reporter, stage: join(fx.dir, 'above') });
    expect(warnings).toContain("top-N 200 above the graph's 110 edges: those runs keep every edge");
  });

  it('refuses inputs of the wrong schema and bad settings before any training', async () => {
    const fresh = join(fx.dir, 'refused');
    await expect(run(config([4]), { train: fx.prompts, stage: fresh })).rejects.toThrow(/holds table 'ct\.prompts' but 'ct\.texts' was expected/);
    await expect(run({ ...config([4]), training: { stepz: 3 } }, { stage: fresh })).rejects.toThrow(/training.*stepz/s);
    await expect(run(config([4], { full: { lr: 1 } }), { stage: fresh })).rejects.toThrow(/tuning-curve run 'full'.*unknown config key 'lr'/s);
    await expect(run(config([4], { evalSplit: 'nope' }), { stage: fresh })).rejects.toThrow(/no evaluation prompts in split 'nope'/);
    await expect(run(config([12, 4]), { stage: fresh })).rejects.toThrow(/topN must increase/);
    expect(existsSync(join(fresh, 'runs'))).toBe(false);
  });
});
