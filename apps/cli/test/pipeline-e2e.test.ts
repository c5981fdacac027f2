/**
 * The pipeline app end to end, as a user runs it: the CLI in a child process on the tiny
 * fixture pipeline (a 2-layer model pre-trained for a few steps, then load → discover →
 * redundancy → train full, LoRA and circuit-tuning → evaluate → report, on the cpu backend).
 * Covers the report's headline, caching, swapping variants by config,
 * reproducibility (`verify`), kill and resume, sweeps, and reading the Arrow outputs with an
 * independent implementation (nodejs-polars).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PromptsTable, TrainLogTable } from '@circuit-tuning/contracts';
import { DiscoveryEdgesTable } from '@circuit-tuning/discovery';
import { discoverEap } from '@circuit-tuning/discovery/stages';
import { readArrowTable, readManifest } from '@circuit-tuning/runtime';
import pl from 'nodejs-polars';
import { runCli, startCli } from './cli-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandHelp } from '../src/command';
import { allCommandNames, loadCommand } from '../src/commands/index';
import { maskTimings } from '@circuit-tuning/report';

const tiny = fileURLToPath(new URL('../../../fixtures/pipelines/tiny.yaml', import.meta.url));

const start = (args: string[]) => startCli(args);
const cli = (...args: string[]) => runCli(args);

interface RunJson {
  runDir: string;
  status: string;
  report: string | null;
  steps: { id: string; stage: string; status: string; reusedFrom?: string; summary: Record<string, unknown> | null }[];
}

let dir: string;
let runA: string;
let first: RunJson;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-pipeline-e2e-'));
  runA = join(dir, 'a');
  const result = await cli('run', tiny, '--run-dir', runA, '--json');
  expect(result.code, result.stderr).toBe(0);
  first = JSON.parse(result.stdout) as RunJson;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('run', () => {
  it('runs the tiny pipeline end to end and leaves a complete run directory', async () => {
    expect(first.status).toBe('succeeded');
    expect(first.steps.map((s) => `${s.id}:${s.status}`)).toEqual([
      'tasks:succeeded',
      'pretrain:succeeded',
      'load:succeeded',
      'discover:succeeded',
      'redundancy:succeeded',
      'train-full:succeeded',
      'train-lora:succeeded',
      'circuit-tuning:succeeded',
      'evaluate-load:succeeded',
      'evaluate-train-full:succeeded',
      'evaluate-train-lora:succeeded',
      'evaluate-circuit-tuning:succeeded',
      'compare:succeeded',
      'circuits:succeeded',
      'report:succeeded',
    ]);
    for (const file of ['pipeline.yaml', 'pipeline.resolved.json', 'run.json', 'log.jsonl']) expect(existsSync(join(runA, file)), file).toBe(true);
    const resolved = JSON.parse(await readFile(join(runA, 'pipeline.resolved.json'), 'utf8')) as { seed: number; backend: string; steps: { id: string }[] };
    expect(resolved).toMatchObject({ seed: 7, backend: 'cpu' });
    const manifest = await readManifest(join(runA, 'discover'));
    expect(manifest).toMatchObject({ status: 'succeeded', seed: 7, stage: { slot: 'discover', variant: 'eap', version: discoverEap.version }, backend: { name: 'cpu' } });
    expect(manifest?.inputs.map((i) => i.path)).toEqual(['load/model', 'tasks/sv_disagreement.arrow']);
    expect(manifest?.versions).toHaveProperty('@circuit-tuning/cli');
    expect(manifest?.versions).toHaveProperty('@tensorflow/tfjs-core', '4.22.0');
    const runLog = readFileSync(join(runA, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: string });
    expect(new Set(runLog.map((e) => e.step))).toEqual(new Set(resolved.steps.map((s) => s.id)));

    expect(first.report).toBe(join(runA, 'report', 'report.html'));
    const html = await readFile(join(runA, 'report', 'report.html'), 'utf8');
    // Self-contained: no script, stylesheet, image or font fetched from anywhere.
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(|href="https?:/);
    expect(html).toMatch(/<table class="comparison" data-table="Training">/);
    // Circuit-tuning's steps whose circuit owned no parameters are counted, 0 included (issue 14, finding 5).
    expect(html).toContain('steps with an empty circuit');
    expect(html).toMatch(/<figure data-chart="train-loss"><svg/);
    expect(html).toMatch(/<figure data-circuit="discover"><svg[^>]*class="circuit"/);
    const markdown = await readFile(join(runA, 'report', 'report.md'), 'utf8');
    expect(markdown).toMatch(/\| train-lora \| train:lora \| 4608 \| 12 \|/);
    expect(markdown).toMatch(/\| circuit-tuning \| train:circuit-tuning \| \d+ \| 12 \| .* \| 20 \|/);
    expect(markdown).toMatch(/!\[Training loss\]\(training-loss\.svg\)/);
    expect(markdown).toMatch(/!\[discover \(discover:eap\)\]\(\.\.\/discover\/circuit\.svg\)/);
    // The stages' own drawings are figures; evaluation and redundancy have their tables.
    // A stage drawing is captioned by its title (what it shows), and linked by its path.
    expect(markdown).toMatch(/!\[compare: [^\]]*[A-Za-z]{4,}[^\]]*\]\(\.\.\/compare\/comparison\.svg\)/);
    expect(markdown).toMatch(/!\[circuits: [^\]]*[A-Za-z]{4,}[^\]]*\]\(\.\.\/circuits\/circuits\.svg\)/);
    expect(markdown).toMatch(/### Node redundancy\n\n\| step \| method \| total \| N\* \(τ = 0\.9\) \|/);
    expect(markdown).toMatch(/### Evaluation \(compare\): target\n\n\| metric \| base \| circuit-tuning \| full \| lora \|/);
    expect(html).toMatch(/<figure data-figure="redundancy:redundancy\/curve-edges\.svg"><svg/);
  });

  it('opens the report with the headline: target task, general capability and the cost of every variant', async () => {
    const markdown = await readFile(join(runA, 'report', 'report.md'), 'utf8');
    const all = markdown.split('\n');
    // The headline is the first section, before the comparisons.
    const start = all.findIndex((l) => l.startsWith('## Headline'));
    expect(start).toBeGreaterThan(0);
    expect(start).toBeLessThan(all.indexOf('## Comparison'));
    const lines = all.slice(start, all.indexOf('## Comparison'));
    const header = lines.find((l) => l.startsWith('| model |'));
    expect(header).toBe(
      '| model | model from | sv-disagreement logit diff ↑ | sv-disagreement accuracy ↑ | held-out perplexity ↓ | IOI accuracy ↑ | trainable parameters | trainable fraction | entries changed | training time (s) |',
    );
    const rows = new Map(lines.filter((l) => /^\| (base|full|lora|circuit-tuning) \| /.test(l)).map((l) => [l.split(' | ')[0]?.slice(2), l.split(' | ')]));
    expect([...rows.keys()]).toEqual(['base', 'full', 'lora', 'circuit-tuning']);
    const total = 13712;
    expect(rows.get('base')?.slice(6)).toEqual(['0', '0.0 %', '0', '– |']);
    expect(rows.get('full')?.slice(6, 8)).toEqual([String(total), '100.0 %']);
    expect(rows.get('lora')?.slice(6, 8)).toEqual(['4608', `${((100 * 4608) / total).toFixed(1)} %`]);
    // Circuit-tuning's circuit changes with each rediscovery: the mean, with the range.
    expect(rows.get('circuit-tuning')?.[6]).toMatch(/^\d+ \(\d+–\d+\)$/);
    // What training really changed: every entry for full fine-tuning, nothing outside the circuits for circuit-tuning.
    expect(rows.get('full')?.[8]).toMatch(/^13\d{3} \(100\.0 %\)$/);
    const ctChanged = Number(rows.get('circuit-tuning')?.[8]?.split(' ')[0]);
    expect(ctChanged).toBeGreaterThan(0);
    expect(ctChanged).toBeLessThan(total);
    for (const variant of ['full', 'lora', 'circuit-tuning']) expect(rows.get(variant)?.[9]).toMatch(/^<span class="timing">[\d.]+<\/span> \|$/);
    // The numbers are the evaluation's: base logit difference and accuracy from its metrics table.
    const metrics = pl.readIPC(readFileSync(join(runA, 'evaluate-load', 'metrics.arrow')));
    const target = metrics.filter(pl.col('task').eq(pl.lit('target')).and(pl.col('condition').eq(pl.lit(''))));
    const value = (metric: string) => Number(target.filter(pl.col('metric').eq(pl.lit(metric))).getColumn('value').toArray()[0]);
    expect(Number(rows.get('base')?.[2])).toBeCloseTo(value('logit_diff'), 3);
    expect(Number(rows.get('base')?.[3])).toBeCloseTo(value('accuracy'), 3);
    const html = await readFile(join(runA, 'report', 'report.html'), 'utf8');
    expect(html.indexOf('<table class="headline"')).toBeGreaterThan(0);
    expect(html.indexOf('<table class="headline"')).toBeLessThan(html.indexOf('<section id="comparison">'));
  });

  it('reuses every unchanged step on a rerun', async () => {
    const again = await cli('run', tiny, '--run-dir', runA, '--json');
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as RunJson).steps.every((s) => s.status === 'cached')).toBe(true);
  });

  it('prints plain progress lines when stderr is not a terminal', async () => {
    const again = await cli('run', tiny, '--run-dir', runA);
    expect(again.stderr).toMatch(/^pipeline tiny: 15 steps, seed 7, run directory /m);
    expect(again.stderr).toMatch(/^\[4\/15\] discover reused \(unchanged\)$/m);
    expect(again.stdout).toBe(`report: ${join(runA, 'report', 'report.html')}\n`);
  });

  it('fails a bad pipeline with the file, line and valid choices (exit 3)', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, (await readFile(tiny, 'utf8')).replace('stage: discover:eap', 'stage: discover:eap-xl'));
    const result = await cli('run', bad, '--run-dir', join(dir, 'bad'));
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/error: .*bad\.yaml:\d+:\d+: step 'discover': unknown variant 'eap-xl' for stage slot 'discover'; valid variants: eap, eap-ig, exact, random/);
  });
});

describe('swapping stages', () => {
  it('swaps the discovery variant and the training variant by config alone', async () => {
    const text = await readFile(tiny, 'utf8');
    expect(text).toMatch(/stage: discover:eap\n/);
    expect(text).toMatch(/stage: train:circuit-tuning\n/);
    const swapped = join(dir, 'swap.yaml');
    // Two lines: another discovery method, and a random circuit of the same size instead of the discovered one.
    await writeFile(swapped, text.replace('stage: discover:eap\n', 'stage: discover:random\n').replace('stage: train:circuit-tuning\n', 'stage: train:random-circuit\n'));
    const runDir = join(dir, 'swap');
    // What the swap leaves unchanged is copied from run A instead of recomputed.
    const result = await cli('run', swapped, '--run-dir', runDir, '--json', '--reuse-from', runA);
    expect(result.code, result.stderr).toBe(0);
    const steps = (JSON.parse(result.stdout) as RunJson).steps;
    expect(steps.map((s) => `${s.id}:${s.stage}:${s.reusedFrom === runA ? 'copied' : s.status}`)).toEqual([
      'tasks:tasks:generate:copied',
      'pretrain:train:full:copied',
      'load:load:hf:copied',
      'discover:discover:random:succeeded',
      'redundancy:redundancy:curves:copied',
      'train-full:train:full:copied',
      'train-lora:train:lora:copied',
      'circuit-tuning:train:random-circuit:succeeded',
      'evaluate-load:evaluate:tasks:copied',
      'evaluate-train-full:evaluate:tasks:copied',
      'evaluate-train-lora:evaluate:tasks:copied',
      'evaluate-circuit-tuning:evaluate:tasks:succeeded',
      'compare:evaluate:compare:succeeded',
      'circuits:evaluate:circuits:succeeded',
      'report:report:html:succeeded',
    ]);
    expect((await readManifest(join(runDir, 'discover')))?.stage.variant).toBe('random');
    expect((await readManifest(join(runDir, 'circuit-tuning')))?.stage.variant).toBe('random-circuit');
    const markdown = await readFile(join(runDir, 'report', 'report.md'), 'utf8');
    expect(markdown).toMatch(/\| circuit-tuning \| train:random-circuit \|/);
    expect(markdown).toMatch(/\| discover \| random \|/);
  });
});

describe('reproducibility', () => {
  it('verify reruns the finished run on the cpu backend and finds every output byte-identical (timings aside)', async () => {
    const result = await cli('verify', runA, '--work', join(dir, 'verify'), '--json', '--quiet');
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { reproduced: boolean; outputs: { step: string; port: string; kind: string; verdict: string; columns?: string[] }[] };
    expect(report.reproduced).toBe(true);
    const arrow = report.outputs.filter((o) => o.kind === 'arrow');
    expect(arrow.length).toBeGreaterThan(10);
    for (const output of arrow) {
      if (output.port === 'train_log') expect(output, `${output.step}.${output.port}`).toMatchObject({ verdict: 'timing-only', columns: ['step_ms'] });
      else expect(output.verdict, `${output.step}.${output.port}`).toBe('same');
    }
    for (const output of report.outputs.filter((o) => o.kind !== 'arrow')) {
      // The report's timings are the only difference a rerun may show.
      if (output.step === 'report' && (output.port === 'html' || output.port === 'markdown')) expect(output.verdict, output.port).toBe('timing-only');
      else expect(output.verdict, `${output.step}.${output.port}`).toBe('same');
    }
    expect(existsSync(join(dir, 'verify'))).toBe(false);
  });

  it('a run killed during training resumes on rerun, and its report equals the uninterrupted one', async () => {
    const runDir = join(dir, 'killed');
    // The steps before training finished in an earlier run; the kill lands in train-full.
    for (const id of ['tasks', 'pretrain', 'load', 'discover']) await cp(join(runA, id), join(runDir, id), { recursive: true });
    const { child, done } = start(['run', tiny, '--run-dir', runDir, '--quiet']);
    const checkpoints = join(runDir, 'train-full', 'run', 'checkpoints');
    const deadline = Date.now() + 90_000;
    while (!(existsSync(checkpoints) && readdirSync(checkpoints).some((n) => /^step-\d+$/.test(n)))) {
      if (Date.now() > deadline) throw new Error('training never checkpointed');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await done;
    expect((await readManifest(join(runDir, 'train-full')))?.status).toBe('running');
    expect(existsSync(join(runDir, 'report', 'report.html'))).toBe(false);

    const rerun = await cli('run', tiny, '--run-dir', runDir, '--json');
    expect(rerun.code, rerun.stderr).toBe(0);
    const steps = (JSON.parse(rerun.stdout) as RunJson).steps;
    expect(steps.slice(0, 4).map((s) => s.status)).toEqual(['cached', 'cached', 'cached', 'cached']);
    expect(steps.find((s) => s.id === 'train-full')?.summary?.resumedFrom).toBeGreaterThan(0);
    // Equal but for the wall-clock timings (which two uninterrupted runs do not share either).
    for (const file of ['report.html', 'report.md', 'training-loss.svg']) {
      expect(maskTimings(await readFile(join(runDir, 'report', file), 'utf8')), file).toBe(maskTimings(await readFile(join(runA, 'report', file), 'utf8')));
    }
    expect(await readFile(join(runDir, 'report', 'report.md'), 'utf8')).toMatch(/\| full \| train-full \| .* \| <span class="timing">[\d.]+<\/span> \|/);
    expect((await readManifest(join(runDir, 'train-full')))?.outputs.find((o) => o.port === 'model')?.sha256).toBe(
      (await readManifest(join(runA, 'train-full')))?.outputs.find((o) => o.port === 'model')?.sha256,
    );
  });
});

describe('Arrow outputs', () => {
  it('are read by an independent implementation (nodejs-polars) with the same values', async () => {
    const polars = (path: string) => pl.readIPC(readFileSync(path));

    const prompts = await readArrowTable(join(runA, 'tasks', 'sv_disagreement.arrow'), PromptsTable);
    const promptsDf = polars(join(runA, 'tasks', 'sv_disagreement.arrow'));
    expect(promptsDf.height).toBe(prompts.numRows);
    expect(promptsDf.columns).toEqual(PromptsTable.fields.map((f) => f.name));
    expect(promptsDf.getColumn('clean_text').toArray()).toEqual(prompts.columns.clean_text);
    expect(promptsDf.getColumn('clean_ids').toArray().map((ids) => Array.from(ids as Iterable<number>))).toEqual(prompts.columns.clean_ids.map((ids) => Array.from(ids)));
    expect(Array.from(promptsDf.getColumn('answer').toArray() as number[])).toEqual(Array.from(prompts.columns.answer));

    const edges = await readArrowTable(join(runA, 'discover', 'edges.arrow'), DiscoveryEdgesTable);
    const edgesDf = polars(join(runA, 'discover', 'edges.arrow'));
    expect(String(edgesDf.getColumn('score').dtype)).toMatch(/Float32/);
    expect(Array.from(edgesDf.getColumn('score').toArray() as number[])).toEqual(Array.from(edges.columns.score));
    expect(edgesDf.getColumn('in_circuit').toArray()).toEqual(Array.from(edges.columns.in_circuit));
    expect(edgesDf.filter(pl.col('in_circuit')).height).toBe(edges.columns.in_circuit.filter(Boolean).length);

    const log = await readArrowTable(join(runA, 'train-full', 'train_log.arrow'), TrainLogTable);
    const logDf = polars(join(runA, 'train-full', 'train_log.arrow'));
    expect(Array.from(logDf.getColumn('loss').toArray() as number[])).toEqual(Array.from(log.columns.loss));
    expect(logDf.getColumn('eval_loss').toArray()).toEqual(log.columns.eval_loss.map((v) => (v === null ? null : Math.fround(v))));
  });
});

describe('sweep', () => {
  it('runs a grid with a concurrency limit, one run directory per trial, summarised in one table', async () => {
    const out = join(dir, 'sweep');
    const result = await cli('sweep', tiny, '--grid', 'discover.config.selection.n=10,30', '--grid', 'seed=7', '--concurrency', '2', '--out', out, '--reuse-from', runA);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/\| trial \| discover\.config\.selection\.n \| seed \| status \| seconds \| discover\.edges \|/);
    expect(result.stdout).toMatch(/\| 1-n=10_seed=7 \| 10 \| 7 \| succeeded \| [\d.]+ \| \d \|/);
    expect(result.stdout).toMatch(/\| 2-n=30_seed=7 \| 30 \| 7 \| succeeded \| [\d.]+ \| 30 \|/);
    const sweep = JSON.parse(await readFile(join(out, 'sweep.json'), 'utf8')) as { trials: { runDir: string; status: string }[] };
    expect(sweep.trials.map((t) => t.status)).toEqual(['succeeded', 'succeeded']);
    // Trials copy what they share with run A and with each other instead of recomputing it.
    const status = (name: string) => JSON.parse(readFileSync(join(out, name, 'run.json'), 'utf8')) as { steps: { id: string; status: string; reusedFrom?: string }[] };
    expect(status('1-n=10_seed=7').steps.map((s) => `${s.id}:${s.reusedFrom === undefined ? s.status : 'copied'}`)).toEqual([
      'tasks:copied',
      'pretrain:copied',
      'load:copied',
      'discover:succeeded',
      'redundancy:copied',
      'train-full:copied',
      'train-lora:copied',
      'circuit-tuning:copied',
      'evaluate-load:copied',
      'evaluate-train-full:copied',
      'evaluate-train-lora:copied',
      'evaluate-circuit-tuning:copied',
      'compare:copied',
      'circuits:copied',
      'report:succeeded',
    ]);
    expect(status('2-n=30_seed=7').steps.find((s) => s.id === 'train-lora')?.reusedFrom).toBeDefined();
    expect(existsSync(join(out, 'sweep.md')) && existsSync(join(out, 'sweep.tsv'))).toBe(true);
  });
});

describe('help', () => {
  it('every command has help with its usage', async () => {
    const names = await allCommandNames();
    for (const name of ['run', 'verify', 'sweep', 'view', 'export', 'stage', 'discover:eap', 'train:lora', 'report:html']) expect(names).toContain(name);
    for (const name of names) {
      const command = (await loadCommand(name))!;
      expect(commandHelp(command)).toMatch(new RegExp(`usage: circuit-tuning ${command.name.replace(/[.:-]/g, '\\$&')}`));
    }
    const result = await cli('discover:eap-ig', '--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/inputs:\n {2}model {2}model-dir/);
    expect(result.stdout).toMatch(/ {2}steps: integer = 5\n/);
  });
});
