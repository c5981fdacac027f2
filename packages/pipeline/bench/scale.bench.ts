/**
 * The `scale` bench: the paper's models end to end on this machine, one process per pipeline step,
 * with each step's wall time and peak resident memory.
 *
 * - `gpt2-small`: fixtures/pipelines/gpt2-small.yaml on a checkpoint of GPT-2 small's exact shape
 *   (packages/model/scripts/make-checkpoint.ts --config gpt2-small, made once and kept): EAP over
 *   the full graph (32,491 edges), its faithfulness curve and N* against random circuits,
 *   circuit-tuning (top-N 1,000, rediscovery every step, 16 × 64, 20 steps), evaluation, report.
 *   Goal: ≤ 20 minutes and ≤ 12 GB peak RSS.
 * - `llama-3.2-1b`: fixtures/pipelines/llama-3.2-1b.yaml on a checkpoint of Llama-3.2-1B's exact
 *   shape (BF16 shards): load, an EAP pass, 3 circuit-tuning steps. Goal: ≤ 15 minutes and ≤ 18 GB.
 *
 * Each step runs as `circuit-tuning run PIPELINE --only STEP` in a fresh process (the steps it
 * needs are reused from the run directory), so a step's peak RSS is its own. Peak RSS comes from
 * each Node process's own `process.resourceUsage().maxRSS`, written at exit by a preloaded hook
 * (the CLI's bin starts a second Node process under tsx; the larger of the two counts).
 *
 * Usage: pnpm --filter @circuit-tuning/cli exec tsx bench/scale.bench.ts [--cases gpt2-small,llama-3.2-1b]
 *          [--keep] [--backend NAME]
 * Results: bench-results/scale-<case>.json at the repository root.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { builtinRegistry, loadPipeline } from '../src/index';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cliBin = join(root, 'apps', 'cli', 'bin', 'circuit-tuning.mjs');
const makeCheckpoint = join(root, 'packages', 'model', 'scripts', 'make-checkpoint.ts');

interface ScaleCase {
  pipeline: string;
  /** The checkpoint's preset (make-checkpoint.ts --config) and where it is kept between benches. */
  preset: string;
  checkpoint: string;
  goal: { minutes: number; peakRssGB: number };
}

const CASES: Record<string, ScaleCase> = {
  'gpt2-small': {
    pipeline: join(root, 'fixtures', 'pipelines', 'gpt2-small.yaml'),
    preset: 'gpt2-small',
    checkpoint: join(root, 'runs', 'models', 'gpt2-small'),
    goal: { minutes: 20, peakRssGB: 12 },
  },
  'llama-3.2-1b': {
    pipeline: join(root, 'fixtures', 'pipelines', 'llama-3.2-1b.yaml'),
    preset: 'llama-3.2-1b',
    checkpoint: join(root, 'runs', 'models', 'llama-3.2-1b'),
    goal: { minutes: 15, peakRssGB: 18 },
  },
};

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: process.env.CT_BENCH_SCALE_CASES ?? Object.keys(CASES).join(',') },
    keep: { type: 'boolean', default: false },
    backend: { type: 'string' },
    /** Bound on one step's process (minutes): a step past it is killed and reported. */
    'step-limit': { type: 'string', default: '40' },
  },
});

/** Preloaded into every Node process of a step: writes its own peak RSS (KB) at exit. */
const PEAK_RSS_HOOK = `process.on('exit', () => {
  try { require('node:fs').appendFileSync(process.env.CT_BENCH_PEAK_RSS_FILE, process.pid + ' ' + process.resourceUsage().maxRSS + '\\n'); } catch {}
});
`;

interface Measured {
  step: string;
  stage: string;
  seconds: number;
  peakRssMB: number;
  exit: number | null;
}

async function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv, limitMs: number): Promise<{ code: number | null; tail: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', (chunk: Buffer) => {
      keep(chunk);
      process.stderr.write(chunk);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, tail });
    });
  });
}

async function runCase(name: string, spec: ScaleCase, work: string): Promise<{ steps: Measured[]; ok: boolean }> {
  const env = { ...process.env };
  if (values.backend) env.CT_BACKEND = values.backend;
  if (!existsSync(join(spec.checkpoint, 'config.json'))) {
    process.stderr.write(`${name}: writing the ${spec.preset} checkpoint to ${spec.checkpoint} (kept for later benches)\n`);
    const made = await runProcess(process.execPath, ['--import', 'tsx', makeCheckpoint, spec.checkpoint, '--config', spec.preset], env, 30 * 60_000);
    if (made.code !== 0) throw new Error(`${name}: make-checkpoint failed:\n${made.tail}`);
  }
  const plan = await loadPipeline(spec.pipeline, { registry: builtinRegistry() });
  const runDir = join(work, name);
  const hook = join(work, 'peak-rss.cjs');
  await writeFile(hook, PEAK_RSS_HOOK);
  const steps: Measured[] = [];
  const limitMs = Number(values['step-limit']) * 60_000;
  for (const step of plan.pipeline.steps) {
    const rssFile = join(work, `${name}-${step.id}.rss`);
    const stepEnv = { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} --require ${hook}`.trim(), CT_BENCH_PEAK_RSS_FILE: rssFile };
    const started = performance.now();
    const result = await runProcess(process.execPath, [cliBin, 'run', spec.pipeline, '--run-dir', runDir, '--only', step.id, '--quiet'], stepEnv, limitMs);
    const seconds = (performance.now() - started) / 1000;
    const peakKB = existsSync(rssFile) ? Math.max(...readFileSync(rssFile, 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[1]))) : Number.NaN;
    steps.push({ step: step.id, stage: step.stage.id, seconds, peakRssMB: peakKB / 1024, exit: result.code });
    process.stdout.write(`${name} ${step.id.padEnd(28)} ${seconds.toFixed(1).padStart(8)} s ${(peakKB / 1024 / 1024).toFixed(2).padStart(7)} GB${result.code === 0 ? '' : `  FAILED (exit ${result.code})`}\n`);
    if (result.code !== 0) {
      process.stderr.write(result.tail);
      return { steps, ok: false };
    }
  }
  return { steps, ok: true };
}

const work = await mkdtemp(join(tmpdir(), 'ct-scale-bench-'));
const results: Record<string, unknown> = {};
let failed = false;
try {
  for (const name of values.cases.split(',').filter(Boolean)) {
    const spec = CASES[name];
    if (!spec) throw new Error(`unknown case '${name}' (cases: ${Object.keys(CASES).join(', ')})`);
    const { steps, ok } = await runCase(name, spec, work);
    const minutes = steps.reduce((a, s) => a + s.seconds, 0) / 60;
    const peakGB = Math.max(...steps.map((s) => s.peakRssMB)) / 1024;
    const within = ok && minutes <= spec.goal.minutes && peakGB <= spec.goal.peakRssGB;
    failed ||= !within;
    process.stdout.write(
      `${name}: ${ok ? 'completed' : 'FAILED'} in ${minutes.toFixed(1)} min, peak RSS ${peakGB.toFixed(2)} GB ` +
        `(goal ≤ ${spec.goal.minutes} min, ≤ ${spec.goal.peakRssGB} GB: ${within ? 'met' : 'NOT met'})\n`,
    );
    results[name] = { ok, minutes, peakRssGB: peakGB, goal: spec.goal, steps, host: hostname(), date: new Date().toISOString() };
    const out = join(root, 'bench-results');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, `scale-${name}.json`), `${JSON.stringify(results[name], null, 2)}\n`);
  }
} finally {
  if (!values.keep) await rm(work, { recursive: true, force: true });
  else process.stderr.write(`run directories kept in ${work}\n`);
}
process.exitCode = failed ? 1 : 0;
