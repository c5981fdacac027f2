import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildGraph, CircuitLogTable, TrainLogTable } from '@circuit-tuning/contracts';
import { runDiscovery } from '@circuit-tuning/discovery';
import { parseStageConfig, readArrowTable, silentReporter, stageId, writeArrowTable } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitDiffTable, EdgeTrendTable, EvaluationComparisonTable, EvaluationMetricsTable, LogitLensTable, writeMetrics } from '../src/index';
import { evaluateStages, registerEvaluateStages, runEvaluation } from '../src/stages';
import { type Fixture, fixture } from './fixtures';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let fx: Fixture;
beforeAll(async () => {
  fx = await fixture();
});
afterAll(async () => {
  await rm(fx.dir, { recursive: true, force: true });
});

const evaluate = (variant: keyof typeof evaluateStages, name: string, inputs: Record<string, string>, config: unknown = {}) =>
  runEvaluation({ variant, inputs, stageDir: join(fx.dir, name), config, reporter: silentReporter });

const tasksOf = (model: string) => ({ model, target: fx.agreement, ioi: fx.ioi, gender_bias: fx.gender, general_text: fx.texts });

describe('the evaluate slot', () => {
  it('registers its four variants, each with defaults that parse', () => {
    expect(registerEvaluateStages().variants('evaluate')).toEqual(['circuits', 'compare', 'logit-lens', 'tasks']);
    for (const definition of Object.values(evaluateStages)) expect(() => parseStageConfig(stageId(definition), definition.config, {})).not.toThrow();
  });

  it('evaluate:tasks scores prompt tasks, prejudice risk and perplexity in one long table', async () => {
    const result = await evaluate('tasks', 'tasks-base', tasksOf(fx.baseDir), { label: 'base' });
    const table = await readArrowTable(result.outputs.metrics!, EvaluationMetricsTable);
    const c = table.columns;
    const value = (task: string, metric: string, condition = '') => {
      const i = c.task.findIndex((t, k) => t === task && c.metric[k] === metric && c.condition[k] === condition);
      return i < 0 ? undefined : { value: c.value[i]!, n: c.n[i]!, dataset: c.dataset[i]! };
    };
    expect(new Set(c.run)).toEqual(new Set(['base']));
    // The step's seed labels every row, so a comparison can pair it with other variants' runs of that seed.
    expect(new Set(c.seed)).toEqual(new Set([result.manifest.seed]));
    expect(value('target', 'accuracy')).toMatchObject({ n: 8, dataset: 'sv-agreement' });
    expect(value('target', 'accuracy', 'plural')).toMatchObject({ n: 4 });
    expect(value('target', 'answer_prob')!.value).toBeGreaterThan(0);
    expect(value('target', 'answer_loss')!.value).toBeCloseTo(-Math.log(value('target', 'answer_prob')!.value), 0);
    expect(value('ioi', 'logit_diff')).toMatchObject({ n: 8, dataset: 'ioi' });
    const risk = value('gender-bias', 'prejudice_risk')!;
    expect(risk.n).toBe(4);
    expect(risk.value).toBeGreaterThanOrEqual(0);
    expect(risk.value).toBeLessThanOrEqual(1);
    expect(value('gender-bias', 'prejudice_risk_balanced')).toMatchObject({ n: 1 });
    expect(value('gender-bias', 'stereotyped_prob')).toMatchObject({ n: 2 });
    // Random weights over 19 tokens: perplexity near the vocabulary size.
    expect(value('general-text', 'perplexity')!.value).toBeGreaterThan(8);
    expect(value('general-text', 'perplexity')!.value).toBeLessThan(40);
    const summary = JSON.parse(await readFile(result.outputs.summary!, 'utf8'));
    expect(summary.tasks.ioi.accuracy).toBeCloseTo(value('ioi', 'accuracy')!.value, 9);
  });

  it('evaluate:tasks reports trainable parameters and training time from a training log', async () => {
    const log = join(fx.dir, 'train_log.arrow');
    const nulls = [null, null, null];
    await writeArrowTable(
      log,
      TrainLogTable,
      {
        step: Int32Array.from([0, 1, 2]),
        loss: Float32Array.from([3, 2, 1]),
        learning_rate: Float32Array.from([1e-3, 1e-3, 1e-3]),
        grad_norm: Float32Array.from([1, 1, 1]),
        tokens: Float64Array.from([10, 20, 30]),
        step_ms: Float32Array.from([100, 200, 300]),
        trainable_parameters: Int32Array.from([10, 20, 30]),
        metric: nulls,
        circuit_edges: nulls,
        circuit_nodes: nulls,
        eval_loss: nulls,
        empty_circuit: nulls,
      },
      { producer: 'test' },
    );
    const result = await evaluate('tasks', 'tasks-log', { model: fx.baseDir, ioi: fx.ioi, train_log: log });
    const summary = JSON.parse(await readFile(result.outputs.summary!, 'utf8'));
    expect(summary.tasks.training.trainable_parameters).toBeCloseTo(20, 9);
    expect(summary.tasks.training.train_seconds).toBeCloseTo(0.6, 6);
    expect(summary.tasks.training.steps).toBe(3);
    const { loadModel } = await import('@circuit-tuning/model');
    const model = await loadModel(fx.baseDir, { tokenizer: 'optional' });
    expect(summary.tasks.training.trainable_fraction).toBeCloseTo(20 / model.params.count(), 12);
    model.dispose();
    await expect(evaluate('tasks', 'tasks-log-wrong', { model: fx.baseDir, ioi: fx.ioi, train_log: fx.texts })).rejects.toThrow(/'ct\.train\.log' was expected/);
  });

  it('evaluate:tasks refuses wrong schemas, nothing to evaluate, and an empty split', async () => {
    await expect(evaluate('tasks', 'tasks-wrong', { model: fx.baseDir, ioi: fx.texts })).rejects.toThrow(/holds table 'ct\.texts' but 'ct\.prompts' was expected/);
    await expect(evaluate('tasks', 'tasks-none', { model: fx.baseDir })).rejects.toThrow(/nothing to evaluate/);
    await expect(evaluate('tasks', 'tasks-split', { model: fx.baseDir, ioi: fx.ioi }, { split: 'dev' })).rejects.toThrow(/'ioi': no rows in split 'dev'/);
  });

  it('evaluate:compare puts runs side by side with differences from the base', async () => {
    const base = await evaluate('tasks', 'tasks-base', tasksOf(fx.baseDir), { label: 'base' });
    const tuned = await evaluate('tasks', 'tasks-tuned', tasksOf(fx.tunedDir), { label: 'tuned' });
    const result = await evaluate('compare', 'compare', { base: base.outputs.metrics!, circuit_tuning: tuned.outputs.metrics!, run_1: tuned.outputs.metrics! }, { labels: { run_1: 'again' } });
    const table = await readArrowTable(result.outputs.comparison!, EvaluationComparisonTable);
    const c = table.columns;
    const rowOf = (run: string, task: string, metric: string) => c.run.findIndex((r, i) => r === run && c.task[i] === task && c.metric[i] === metric && c.condition[i] === '');
    const b = rowOf('base', 'ioi', 'accuracy');
    const t = rowOf('circuit-tuning', 'ioi', 'accuracy');
    expect(c.delta[b]).toBe(0);
    expect(c.delta[t]).toBeCloseTo(c.value[t]! - c.value[b]!, 12);
    expect(new Set(c.reference)).toEqual(new Set(['base']));
    expect(new Set(c.run)).toEqual(new Set(['base', 'circuit-tuning', 'again']));
    // One seed each: the value itself, no interval, no paired test (no full or LoRA wired).
    expect(new Set(c.n_seeds)).toEqual(new Set([1]));
    expect(c.ci_low.every((x) => x === null) && c.p_vs_full.every((x) => x === null)).toBe(true);
    const markdown = await readFile(result.outputs.markdown!, 'utf8');
    expect(markdown).toContain('| metric | base | circuit-tuning | again |');
    expect(markdown).toContain('## gender-bias (gender-bias)');
    // The two tuned runs tie, so both are the best (bold); the base model is the reference, not a contender.
    expect(markdown).toMatch(/\| prejudice_risk ↓ \| [\d.]+ \| \*\*[\d.]+\*\* \([+-][\d.]+\) \| \*\*[\d.]+\*\* \([+-]/);
    expect(Array.from((await readFile(result.outputs.png!)).subarray(0, 8))).toEqual(PNG_MAGIC);
    await expect(evaluate('compare', 'compare-dup', { base: base.outputs.metrics!, full: tuned.outputs.metrics! }, { labels: { full: 'base' } })).rejects.toThrow(/two inputs are labelled 'base'/);
    await expect(evaluate('compare', 'compare-wrong', { base: fx.agreement })).rejects.toThrow(/holds table 'ct\.prompts' but 'ct\.evaluation\.metrics' was expected/);
  });

  it('evaluate:compare takes several seeds per variant, labelled by their tables, and pairs them by seed', async () => {
    const table = async (name: string, run: string, seed: number, logitDiff: number) => {
      const path = join(fx.dir, `${name}.arrow`);
      await writeMetrics(path, { run, seed }, [{ task: 'target', dataset: 'sv-disagreement', metric: 'logit_diff', condition: '', value: logitDiff, n: 10 }], 'test');
      return path;
    };
    const inputs = {
      base: await table('m-base', 'base', 5, 0),
      full: await table('m-full-1', 'full', 1, 1),
      run_1: await table('m-full-2', 'full', 2, 2),
      run_2: await table('m-full-3', 'full', 3, 3),
      run_3: await table('m-ct-3', 'circuit-tuning', 3, 4),
      run_4: await table('m-ct-1', 'circuit-tuning', 1, 3),
      run_24: await table('m-ct-2', 'circuit-tuning', 2, 5),
    };
    const result = await evaluate('compare', 'compare-seeds', inputs);
    const { columns: c } = await readArrowTable(result.outputs.comparison!, EvaluationComparisonTable);
    const ct = c.run.indexOf('circuit-tuning');
    expect(c.n_seeds[ct]).toBe(3);
    expect(c.seeds[ct]).toBe('1,2,3');
    expect(c.value[ct]).toBeCloseTo(4, 12);
    expect(c.ci_high[ct]! - c.value[ct]!).toBeCloseTo(2.4841377, 6);
    expect(c.diff_vs_full[ct]).toBeCloseTo(2, 12);
    expect(c.p_vs_full[ct]).toBeCloseTo(1 - 2 * Math.sqrt(3 / 14), 9);
    expect(c.signs_vs_full[ct]).toBe('+++');
    expect(c.p_vs_lora[ct]).toBeNull();
    expect(c.test[ct]).toBe('paired t-test over seeds (two-sided)');
    const markdown = await readFile(result.outputs.markdown!, 'utf8');
    expect(markdown).toContain('| logit_diff ↑ | 0 | 2 ± 2.48 (+2) | **4 ± 2.48** (+4) |');
    // Two tables of one variant and seed are refused, naming both ports.
    await expect(evaluate('compare', 'compare-seeds-dup', { ...inputs, run_5: inputs.run_1 })).rejects.toThrow(/two inputs are labelled 'full' with seed 2 \(ports run_1 and run_5\)/);
  });

  it('evaluate:circuits draws circuits side by side and lists shared, new and changing edges', async () => {
    const discover = (name: string, model: string) =>
      runDiscovery({ variant: 'eap', modelDir: model, promptsPath: fx.agreement, stageDir: join(fx.dir, name), config: { curve: { enabled: false }, draw: { svg: false, png: false }, selection: { n: 25 }, positions: 'all' }, reporter: silentReporter });
    const before = await discover('discover-before', fx.baseDir);
    const after = await discover('discover-after', fx.tunedDir);
    const result = await evaluate('circuits', 'circuits-edges', { edges_before: before.outputs.edges!, edges_after: after.outputs.edges!, model: fx.baseDir });
    const diff = await readArrowTable(result.outputs.diff!, CircuitDiffTable);
    expect(new Set(diff.columns.element)).toEqual(new Set(['node', 'edge']));
    expect(diff.columns.presence.every((p) => p.length === 2 && p !== '00')).toBe(true);
    const trends = await readArrowTable(result.outputs.trends!, EdgeTrendTable);
    // Discovery tables score every edge, so every trend has both scores.
    expect(trends.columns.score_first.every((s) => s !== null)).toBe(true);
    expect(new Set(trends.columns.trend).size).toBeGreaterThan(1);
    const summary = JSON.parse(await readFile(result.outputs.summary!, 'utf8'));
    expect(summary.checkpoints.map((c: { label: string }) => c.label)).toEqual(['before', 'after']);
    const svg = await readFile(result.outputs.svg!, 'utf8');
    expect(svg.match(/<svg /g)!.length).toBe(3);
    expect(svg).toContain('after: ');
    expect(Array.from((await readFile(result.outputs.png!)).subarray(0, 8))).toEqual(PNG_MAGIC);

    // From a circuit log, with the shape read from the edge names.
    const edges = buildGraph({ nLayers: 2, nHeads: 4 }).edgeNames();
    const logPath = join(fx.dir, 'circuit-log.arrow');
    const rows = [0, 10, 20].flatMap((step) => edges.slice(step, step + 12).map((edge, rank) => ({ step, edge, score: 1 + step / 10 + rank / 100, rank: rank + 1 })));
    await writeArrowTable(
      logPath,
      CircuitLogTable,
      { step: Int32Array.from(rows, (r) => r.step), edge: rows.map((r) => r.edge), score: Float32Array.from(rows, (r) => r.score), rank: Int32Array.from(rows, (r) => r.rank) },
      { producer: 'test' },
    );
    const fromLog = await evaluate('circuits', 'circuits-log', { circuit_log: logPath }, { draw: { png: false } });
    const logSummary = JSON.parse(await readFile(fromLog.outputs.summary!, 'utf8'));
    expect(logSummary.source).toBe('circuit-log');
    expect(logSummary.checkpoints.map((c: { label: string }) => c.label)).toEqual(['step 0', 'step 10', 'step 20']);

    // A circuit log of MLP heads (circuit-tuning with parameterMapping mlp 'heads'): the graph is
    // built with the model's MLPs in heads of mlpHeadWidth neurons (128 / 64 = 2 here).
    const headEdges = buildGraph({ nLayers: 2, nHeads: 4, mlpHeads: 2 }).edgeNames();
    const headLog = join(fx.dir, 'circuit-log-heads.arrow');
    const headRows = [0, 10].flatMap((step) => headEdges.filter((e) => e.includes('.n')).slice(step, step + 8).map((edge, rank) => ({ step, edge, score: 1 + rank / 100, rank: rank + 1 })));
    await writeArrowTable(
      headLog,
      CircuitLogTable,
      { step: Int32Array.from(headRows, (r) => r.step), edge: headRows.map((r) => r.edge), score: Float32Array.from(headRows, (r) => r.score), rank: Int32Array.from(headRows, (r) => r.rank) },
      { producer: 'test' },
    );
    const fromHeads = await evaluate('circuits', 'circuits-heads', { circuit_log: headLog, model: fx.baseDir }, { draw: { png: false } });
    expect(await readFile(fromHeads.outputs.svg!, 'utf8')).toMatch(/data-name="m0\.n1"/);
    await expect(evaluate('circuits', 'circuits-heads-width', { circuit_log: headLog, model: fx.baseDir }, { mlpHeadWidth: 100 })).rejects.toThrow(/name MLP head 1, which MLPs of 128 neurons in heads of mlpHeadWidth 100 do not have/);
    // A circuit log on a graph with k/v readers per kv group (a1.g1<k>): the graph gets the kv
    // groups the names show (with the model wired: the model's k/v heads, which must cover them).
    const kvEdges = buildGraph({ nLayers: 2, nHeads: 4, kvGroups: 2 }).edgeNames().filter((e) => e.includes('.g'));
    const kvLog = join(fx.dir, 'circuit-log-kv.arrow');
    const kvRows = [0, 10].flatMap((step) => kvEdges.slice(step, step + 12).map((edge, rank) => ({ step, edge, score: 1 + rank / 100, rank: rank + 1 })));
    expect(kvRows.some((r) => r.edge.includes('.g1<'))).toBe(true);
    await writeArrowTable(
      kvLog,
      CircuitLogTable,
      { step: Int32Array.from(kvRows, (r) => r.step), edge: kvRows.map((r) => r.edge), score: Float32Array.from(kvRows, (r) => r.score), rank: Int32Array.from(kvRows, (r) => r.rank) },
      { producer: 'test' },
    );
    const fromKv = await evaluate('circuits', 'circuits-kv', { circuit_log: kvLog }, { nLayers: 2, nHeads: 4, draw: { png: false } });
    expect(JSON.parse(await readFile(fromKv.outputs.summary!, 'utf8')).checkpoints.map((c: { edges: number }) => c.edges)).toEqual([12, 12]);
    expect(await readFile(fromKv.outputs.svg!, 'utf8')).toMatch(/data-reader="a\d\.g1"/);
    await expect(evaluate('circuits', 'circuits-none', {})).rejects.toThrow(/needs the circuit_log input/);
    await expect(evaluate('circuits', 'circuits-wrong', { circuit_log: fx.texts })).rejects.toThrow(/holds table 'ct\.texts' but 'ct\.train\.circuit' was expected/);
  });

  it('evaluate:logit-lens writes a layer × head heat map whose cells add up to the logit difference', async () => {
    const result = await evaluate('logit-lens', 'lens', { model: fx.baseDir, prompts: fx.agreement });
    const table = await readArrowTable(result.outputs.table!, LogitLensTable);
    const c = table.columns;
    const overall = c.node.flatMap((_, i) => (c.condition[i] === '' ? [i] : []));
    expect(overall.map((i) => c.node[i])).toEqual(['input', 'a0.h0', 'a0.h1', 'a0.h2', 'a0.h3', 'm0', 'a1.h0', 'a1.h1', 'a1.h2', 'a1.h3', 'm1', 'bias']);
    expect(new Set(c.condition)).toEqual(new Set(['', 'plural', 'singular']));
    const summary = JSON.parse(await readFile(result.outputs.summary!, 'utf8'));
    expect(summary.reconstructed).toBeCloseTo(summary.logitDiff, 4);
    expect(summary.topHeads).toHaveLength(8);
    const svg = await readFile(result.outputs.svg!, 'utf8');
    expect(svg).toContain('condition: plural');
    expect(Array.from((await readFile(result.outputs.png!)).subarray(0, 8))).toEqual(PNG_MAGIC);
    await expect(evaluate('logit-lens', 'lens-wrong', { model: fx.baseDir, prompts: fx.texts })).rejects.toThrow(/holds table 'ct\.texts' but 'ct\.prompts'/);
  });

  it('evaluate:logit-lens with the lens before tuning: before and after on one scale, after − before, and the heads that changed most', async () => {
    const before = await evaluate('logit-lens', 'lens-before', { model: fx.baseDir, prompts: fx.agreement });
    const after = await evaluate('logit-lens', 'lens-after', { model: fx.tunedDir, prompts: fx.agreement, before: before.outputs.table! });
    const svg = await readFile(after.outputs.svg!, 'utf8');
    expect(svg).toContain('Before tuning (the `before` input), on the same scale');
    expect(svg).toContain('Logit lens after: direct logit attribution');
    expect(svg).toContain('After − before: what tuning changed');
    expect(svg).not.toContain('share of logit');
    const summary = JSON.parse(await readFile(after.outputs.summary!, 'utf8'));
    const lensOf = async (path: string) => {
      const { columns: c } = await readArrowTable(path, LogitLensTable);
      return new Map(c.node.flatMap((node, i) => (c.condition[i] === '' ? [[node, c.mean[i] as number] as const] : [])));
    };
    const [then, now] = [await lensOf(before.outputs.table!), await lensOf(after.outputs.table!)];
    const largest = [...now.keys()].filter((n) => n.startsWith('a')).sort((a, b) => Math.abs(now.get(b)! - then.get(b)!) - Math.abs(now.get(a)! - then.get(a)!))[0]!;
    expect(summary.changedHeads[0].node).toBe(largest);
    expect(summary.changedHeads[0].change).toBeCloseTo(now.get(largest)! - then.get(largest)!, 9);
  });

  it('every variant is deterministic and honours an abort signal', async () => {
    const base = await evaluate('tasks', 'tasks-base', tasksOf(fx.baseDir), { label: 'base' });
    const cases: [keyof typeof evaluateStages, Record<string, string>][] = [
      ['tasks', tasksOf(fx.tunedDir)],
      ['compare', { base: base.outputs.metrics!, full: base.outputs.metrics! }],
      ['logit-lens', { model: fx.tunedDir, prompts: fx.ioi }],
    ];
    for (const [variant, inputs] of cases) {
      const hashes = async (name: string) => Object.fromEntries((await evaluate(variant, name, inputs)).manifest.outputs.map((o) => [o.port, o.sha256]));
      expect(await hashes(`${variant}-det-a`), variant).toEqual(await hashes(`${variant}-det-b`));
      const controller = new AbortController();
      controller.abort(new Error('stop now'));
      await expect(runEvaluation({ variant, inputs, stageDir: join(fx.dir, `${variant}-aborted`), reporter: silentReporter, signal: controller.signal })).rejects.toThrow(/stop now/);
    }
  });
});
