/**
 * Issue #8's bench: what the native OpenBLAS kernels (packages/native) buy, against plain
 * wasm and against PyTorch on the same CPU, in one invocation (setups: `wasm`, `wasm+native` the
 * kernels on the wasm heap, `native` the same kernels on tensors in process memory, `torch`):
 *   - fp32 matmul GFLOP/s at n = 128, 512, 1024;
 *   - training tokens/s (forward, backward, one Adam step) of the runtime report's model
 *     (4 layers, d 256, 4 heads, seq 64, batch 16, vocab 2000) and of a GPT-2-small-shaped model
 *     (12 layers, d 768, 12 heads, vocab 50257, random weights; batch --gpt2-batch × 64).
 * Each setup runs in its own process (the backend and the BLAS library are per process); PyTorch
 * runs packages/model/bench/torch_gpt2.py (Debian python3-torch, OMP_WAIT_POLICY=PASSIVE).
 *
 *   pnpm --filter @circuit-tuning/training exec tsx bench/native.bench.ts [--steps N] [--gpt2-batch B] [--skip-gpt2]
 *       [--setups wasm,wasm+native,native,torch] [--profile] [--threads N]
 *
 * Each setup's peak RSS is reported after each shape (the process's maximum so far, so the
 * GPT-2 figure is the larger of the two).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gpt2Config, TransformerModel } from '@circuit-tuning/model';
import { backendInfo, createRng, initBackend, tf } from '@circuit-tuning/runtime';
import { createOptimizer, nextTokenLoss } from '../src/index';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const TORCH_SCRIPT = join(repoRoot, 'packages/model/bench/torch_gpt2.py');
const PYTHON = process.env.CT_BENCH_PYTHON ?? '/usr/bin/python3';
const PREFIX = '@ct-bench ';
const SIZES = [128, 512, 1024];

interface Shape {
  label: string;
  layers: number;
  heads: number;
  d: number;
  vocab: number;
  batch: number;
  seq: number;
}

const { values } = parseArgs({
  options: {
    worker: { type: 'string' },
    steps: { type: 'string', default: '8' },
    'gpt2-batch': { type: 'string', default: '4' },
    'skip-gpt2': { type: 'boolean', default: false },
    threads: { type: 'string', default: '2' },
    profile: { type: 'boolean', default: false },
    setups: { type: 'string', default: 'wasm,wasm+native,native,torch' },
  },
});
const steps = Number(values.steps);
const threads = Number(values.threads);
const SHAPES: Shape[] = [
  { label: 'runtime report model (4L, d256, 4H, vocab 2000, 16×64)', layers: 4, heads: 4, d: 256, vocab: 2000, batch: 16, seq: 64 },
  ...(values['skip-gpt2']
    ? []
    : [{ label: `GPT-2 small shape (12L, d768, 12H, vocab 50257, ${values['gpt2-batch']}×64)`, layers: 12, heads: 12, d: 768, vocab: 50257, batch: Number(values['gpt2-batch']), seq: 64 }]),
];

type Result = { kind: 'rss'; shape: string; peakMb: number } | { kind: 'profile'; shape: string; kernels: { name: string; ms: number; calls: number }[]; totalMs: number } | { kind: 'matmul'; n: number; gflops: number } | { kind: 'train'; shape: string; tokensPerS: number; msPerStep: number } | { kind: 'error'; what: string; message: string } | { kind: 'setup'; line: string };

const emit = (result: Result) => process.stdout.write(`${PREFIX}${JSON.stringify(result)}\n`);

/**
 * Median seconds of `run` over at least `min` calls and 0.5 s, after warm-up calls for 0.3 s (at
 * least one): V8 first runs wasm code from its baseline compiler and swaps in optimised code
 * while it runs, so a short first measurement of plain wasm reads several times too slow.
 */
async function timeIt(run: () => Promise<void>, min: number): Promise<number> {
  const warmUp = performance.now();
  do await run();
  while (performance.now() - warmUp < 300);
  const times: number[] = [];
  const start = performance.now();
  while (times.length < min || (performance.now() - start < 500 && times.length < 50)) {
    const t = performance.now();
    await run();
    times.push((performance.now() - t) / 1000);
  }
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

async function matmulGflops(n: number): Promise<number> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  // wasm runs a kernel synchronously: the product is done when matMul returns. No readback, as
  // on the PyTorch side (reading n² floats out of the heap would add a copy torch does not make).
  const seconds = await timeIt(async () => {
    tf.matMul(a, b).dispose();
  }, 5);
  tf.dispose([a, b]);
  return (2 * n ** 3) / seconds / 1e9;
}

async function trainingTokensPerS(shape: Shape, profile: boolean): Promise<number> {
  const model = await TransformerModel.random(
    gpt2Config({ nLayers: shape.layers, nHeads: shape.heads, dModel: shape.d, vocabSize: shape.vocab, maxPositions: shape.seq }),
    1,
  );
  const optimizer = createOptimizer({ kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
  const rng = createRng(1);
  const ids = tf.tensor2d(Int32Array.from({ length: shape.batch * shape.seq }, () => rng.nextInt(shape.vocab)), [shape.batch, shape.seq], 'int32');
  const weights = tf.onesLike(ids).toFloat() as tf.Tensor2D;
  const vars = model.params.entries();
  const step = async () => {
    const { value, grads } = tf.variableGrads(() => nextTokenLoss(model.logits(ids), ids, weights), vars.map(([, v]) => v));
    await value.data();
    optimizer.apply(
      vars.map(([name, variable]) => ({ name, variable, grad: grads[variable.name] as tf.Tensor })),
      1e-4,
    );
    tf.dispose([value, ...Object.values(grads)]);
  };
  const seconds = await timeIt(step, steps);
  if (profile) {
    // Kernel times of one step (wasm runs synchronously, so each kernel's time is its own).
    const t0 = performance.now();
    const info = await tf.profile(step);
    const totalMs = performance.now() - t0;
    const byName = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const entry = byName.get(k.name) ?? { ms: 0, calls: 0 };
      entry.ms += Number(k.kernelTimeMs);
      entry.calls += 1;
      byName.set(k.name, entry);
    }
    const kernels = [...byName].map(([name, e]) => ({ name, ...e })).sort((x, y) => y.ms - x.ms);
    emit({ kind: 'profile', shape: shape.label, kernels, totalMs });
  }
  tf.dispose([ids, weights]);
  optimizer.dispose();
  model.dispose();
  return (shape.batch * shape.seq) / seconds;
}

async function worker(setup: string): Promise<void> {
  await initBackend({ backend: setup === 'native' ? 'native' : 'wasm', threads, nativeKernels: setup !== 'wasm', log: () => {} });
  const info = backendInfo();
  if (setup !== 'wasm' && info.nativeKernels === undefined) {
    emit({ kind: 'error', what: setup, message: 'the native kernels did not load (see `pnpm exec ct inspect` or the backend line)' });
  }
  emit({ kind: 'setup', line: `${info.name}, ${info.threads} threads, fixes: ${info.kernelFixes.join(', ')}` });
  for (const n of SIZES) emit({ kind: 'matmul', n, gflops: await matmulGflops(n) });
  for (const shape of SHAPES) {
    try {
      const tokensPerS = await trainingTokensPerS(shape, values.profile === true);
      emit({ kind: 'train', shape: shape.label, tokensPerS, msPerStep: ((shape.batch * shape.seq) / tokensPerS) * 1000 });
      emit({ kind: 'rss', shape: shape.label, peakMb: process.resourceUsage().maxRSS / 1024 });
    } catch (error) {
      emit({ kind: 'error', what: shape.label, message: String(error).split('\n')[0] ?? '' });
    }
  }
  // No shutdownBackend(): after a GPT-2-sized run near the 4 GB heap, tfjs-backend-wasm's own
  // dispose can abort (memory access out of bounds); the worker's results are out, so just exit.
  process.exit(0);
}

function parseLines(stdout: string): Result[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith(PREFIX))
    .map((line) => JSON.parse(line.slice(PREFIX.length)) as Result);
}

function runSetup(setup: string): Result[] {
  process.stderr.write(`running ${setup} …\n`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', setup, ...forwardedArgs()], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return parseLines(run.stdout ?? '');
}

function forwardedArgs(): string[] {
  return [...(values.profile ? ['--profile'] : []), '--steps', String(steps), '--gpt2-batch', String(values['gpt2-batch']), '--threads', String(threads), ...(values['skip-gpt2'] ? ['--skip-gpt2'] : [])];
}

const TORCH_MATMUL = `
import json, sys, time, torch
torch.set_num_threads(${threads})
for n in ${JSON.stringify(SIZES)}:
    a = torch.randn(n, n); b = torch.randn(n, n); a @ b
    times = []
    start = time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < 0.5 and len(times) < 50):
        t = time.perf_counter(); a @ b; times.append(time.perf_counter() - t)
    times.sort()
    print('${PREFIX}' + json.dumps({'kind': 'matmul', 'n': n, 'gflops': 2 * n ** 3 / times[len(times) // 2] / 1e9}), flush=True)
`;

function runTorch(): Result[] {
  process.stderr.write('running PyTorch …\n');
  const env = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: String(threads) };
  const matmul = spawnSync(PYTHON, ['-c', TORCH_MATMUL], { encoding: 'utf8', env });
  if (matmul.status !== 0) return [{ kind: 'error', what: 'torch', message: (matmul.stderr || String(matmul.error)).split('\n').slice(-2).join(' ') }];
  const results = parseLines(matmul.stdout);
  for (const shape of SHAPES) {
    const request = { threads, layers: shape.layers, heads: shape.heads, d: shape.d, vocab: shape.vocab, steps, warmup: 1, runs: [{ mode: 'train', batch: shape.batch, seq: shape.seq }] };
    const run = spawnSync(PYTHON, [TORCH_SCRIPT, JSON.stringify(request)], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
    const line = (run.stdout ?? '').split('\n').find((l) => l.startsWith(PREFIX) && l.includes('"result"'));
    if (line === undefined) {
      results.push({ kind: 'error', what: `torch ${shape.label}`, message: (run.stderr ?? '').split('\n').slice(-2).join(' ') });
      continue;
    }
    const r = JSON.parse(line.slice(PREFIX.length)) as { medianMs: number; tokensPerS: number };
    results.push({ kind: 'train', shape: shape.label, tokensPerS: r.tokensPerS, msPerStep: r.medianMs });
  }
  return results;
}

function main(): void {
  const chosen = String(values.setups).split(',');
  const setups: Record<string, Result[]> = {};
  if (chosen.includes('wasm')) setups.wasm = runSetup('wasm');
  if (chosen.includes('wasm+native')) setups['wasm+native'] = runSetup('wasm+native');
  if (chosen.includes('native')) setups.native = runSetup('native');
  if (chosen.includes('torch')) setups.PyTorch = runTorch();
  const names = Object.keys(setups);
  const value = (setup: string, pick: (r: Result) => number | undefined) => {
    for (const r of setups[setup] ?? []) {
      const v = pick(r);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const cell = (v: number | undefined, torch: number | undefined, digits: number) =>
    v === undefined ? '—' : `${v.toFixed(digits)}${torch === undefined ? '' : ` (${(v / torch).toFixed(2)}×)`}`;
  const lines: string[] = [];
  lines.push(`threads: ${threads}; ratios are against PyTorch`);
  for (const name of names) for (const r of setups[name] ?? []) if (r.kind === 'setup') lines.push(`${name}: ${r.line}`);
  lines.push('', `| fp32 matmul GFLOP/s | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
  for (const n of SIZES) {
    const pick = (r: Result) => (r.kind === 'matmul' && r.n === n ? r.gflops : undefined);
    const torch = value('PyTorch', pick);
    lines.push(`| n = ${n} | ${names.map((s) => cell(value(s, pick), torch, 1)).join(' | ')} |`);
  }
  lines.push('', `| training tokens/s (Adam) | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
  for (const shape of SHAPES) {
    const pick = (r: Result) => (r.kind === 'train' && r.shape === shape.label ? r.tokensPerS : undefined);
    const torch = value('PyTorch', pick);
    lines.push(`| ${shape.label} | ${names.map((s) => cell(value(s, pick), torch, shape.layers > 4 ? 1 : 0)).join(' | ')} |`);
  }
  lines.push('', `| peak RSS (MB) after | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
  for (const shape of SHAPES) {
    const pick = (r: Result) => (r.kind === 'rss' && r.shape === shape.label ? r.peakMb : undefined);
    lines.push(`| ${shape.label} | ${names.map((s) => cell(value(s, pick), undefined, 0)).join(' | ')} |`);
  }
  for (const name of names) {
    for (const r of setups[name] ?? []) {
      if (r.kind !== 'profile') continue;
      const kernelMs = r.kernels.reduce((sum, k) => sum + k.ms, 0);
      lines.push('', `profile of one step, ${name}, ${r.shape}: ${r.totalMs.toFixed(0)} ms (kernels ${kernelMs.toFixed(0)} ms)`);
      for (const k of r.kernels.slice(0, 12)) {
        lines.push(`  ${k.name.padEnd(24)} ${k.ms.toFixed(1).padStart(8)} ms ${((100 * k.ms) / kernelMs).toFixed(1).padStart(5)} %  ${k.calls} calls`);
      }
    }
  }
  const errors = names.flatMap((s) => (setups[s] ?? []).filter((r) => r.kind === 'error').map((r) => `${s}: ${r.kind === 'error' ? `${r.what}: ${r.message}` : ''}`));
  if (errors.length > 0) lines.push('', 'errors:', ...errors.map((e) => `- ${e}`));
  const text = lines.join('\n');
  console.log(text);
  const outDir = join(repoRoot, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'native.md'), `${text}\n`);
  writeFileSync(join(outDir, 'native.json'), `${JSON.stringify(setups, null, 2)}\n`);
}

if (values.worker !== undefined) await worker(values.worker);
else main();
