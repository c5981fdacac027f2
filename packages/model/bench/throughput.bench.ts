/**
 * Forward / forward+backward throughput (tokens/s) of a GPT-2-small-shaped transformer (random
 * weights) on every tfjs backend that starts here, with and without reader probes, against
 * PyTorch on the same CPU; plus a kernel profile of one wasm step. Not part of the tests.
 *
 *   pnpm bench                                        (all packages, via turbo)
 *   pnpm --filter @circuit-tuning/model bench -- --quick
 *   pnpm --filter @circuit-tuning/model bench -- --help
 *
 * Each backend runs in its own worker process (tfjs backends are global per process); a pass that
 * would overrun wasm's 4 GB heap is stopped by a heap limit (heap-guard.ts) and measured again at half the batch
 * (then half the sequence), together with plain fwd+bwd at that size, so that the probe overhead
 * always compares equal shapes. Results: printed, and written as an Arrow table
 * (<repo>/bench-results/throughput.arrow, schema ct.bench.throughput) with the profile next to it
 * (throughput-profile.txt).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeArrowTable } from '@circuit-tuning/runtime';
import { type BenchOptions, DEFAULTS, LINE_PREFIX, MODE_HELP, MODES, type Mode, type ModeResult, parseOptions, type WorkerLine, type WorkerRequest } from './options';
import {
  FLOP_FACTOR,
  formatProfile,
  formatTable,
  forwardFlops,
  type LabelledProfile,
  parameterCount,
  type Row,
  setupLabel,
  tableColumns,
  ThroughputTable,
} from './report';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');
const WORKER = join(here, 'throughput-worker.ts');
const TORCH_SCRIPT = join(here, 'torch_gpt2.py');
const PYTHON = process.env['CT_BENCH_PYTHON'] ?? '/usr/bin/python3';
/** A worker that prints nothing for this long is stuck (e.g. threaded wasm past its heap) and killed. */
const STALL_S = Number(process.env['CT_BENCH_STALL_S'] ?? 300);
/** The pure-JS cpu backend runs only when one step is estimated to take less than this. */
const CPU_MAX_STEP_S = 60;
/** cpu backend matmul speed measured here (docs/runtime.md §10), for that estimate. */
const CPU_GFLOPS = 1;

interface WorkerRun {
  lines: WorkerLine[];
  code: number | null;
  stalled: boolean;
}

/** Runs one worker process; its stderr (progress) is passed through, indented. */
function runWorker(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<WorkerRun> {
  return new Promise((done) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: WorkerLine[] = [];
    let stalled = false;
    let timer: NodeJS.Timeout | undefined;
    const alive = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = true;
        process.stderr.write(`    (no output for ${STALL_S} s: killing worker ${child.pid})\n`);
        child.kill('SIGKILL');
      }, STALL_S * 1000);
    };
    alive();
    let buffered = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      alive();
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const part of parts) {
        if (part.startsWith(LINE_PREFIX)) lines.push(JSON.parse(part.slice(LINE_PREFIX.length)) as WorkerLine);
        else if (part.trim() !== '') process.stderr.write(`    ${part}\n`);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      alive();
      for (const part of chunk.split('\n')) {
        if (part.trim() !== '' && !part.includes('npm warn')) process.stderr.write(`    ${part}\n`);
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ lines, code, stalled });
    });
  });
}

function tsxWorker(request: WorkerRequest): Promise<WorkerRun> {
  const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return runWorker(process.execPath, ['--import', loader, WORKER, JSON.stringify(request)]);
}

const emptyRow = (partial: Partial<Row> & Pick<Row, 'source' | 'backend' | 'status'>, o: BenchOptions): Row => ({
  threads: null,
  mode: null,
  batch: o.batch,
  seq: o.seq,
  medianMs: null,
  tokensPerS: null,
  gflops: null,
  loss: null,
  peakRssMb: null,
  heapMb: null,
  liveTensorPeakMb: null,
  probeOverheadPct: null,
  vsTorch: null,
  stepMs: null,
  note: null,
  ...partial,
});

function resultRow(source: Row['source'], backend: string, threads: number | null, r: ModeResult, o: BenchOptions): Row {
  const flops = FLOP_FACTOR[r.mode] * forwardFlops(o, r.batch, r.seq);
  return emptyRow(
    {
      source,
      backend,
      threads,
      mode: r.mode,
      batch: r.batch,
      seq: r.seq,
      status: 'ok',
      medianMs: r.medianMs,
      tokensPerS: r.tokensPerS,
      gflops: flops / (r.medianMs / 1000) / 1e9,
      loss: r.loss,
      peakRssMb: r.peakRssMb,
      heapMb: r.heapMb ?? null,
      liveTensorPeakMb: r.liveTensorPeakMb ?? null,
      stepMs: r.stepMs,
    },
    o,
  );
}

const say = (line = '') => process.stdout.write(`${line}\n`);

function printResult(row: Row): void {
  const label = setupLabel(row.backend, row.threads).padEnd(12);
  const mode = (row.mode ?? '').padEnd(15);
  if (row.status !== 'ok') {
    say(`  ${label} ${mode} ${row.batch}×${row.seq}: ${row.status}${row.note ? ` (${row.note})` : ''}`);
    return;
  }
  say(
    `  ${label} ${mode} ${row.batch}×${row.seq}: ${row.tokensPerS!.toFixed(1)} tok/s (${(row.medianMs! / 1000).toFixed(2)} s/step, ` +
      `${row.gflops!.toFixed(1)} GFLOP/s, peak RSS ${row.peakRssMb!.toFixed(0)} MB${row.heapMb == null ? '' : `, wasm heap ${row.heapMb.toFixed(0)} MB`})`,
  );
}

interface Job {
  batch: number;
  seq: number;
  modes: Mode[];
}

/** Where wasm memory went, per pass (for the profile file). */
const memoryNotes: string[] = [];

/** The shape each mode last fitted at on wasm: a later wasm setup starts there. */
const fittedOnWasm = new Map<Mode, { batch: number; seq: number }>();

/** The next smaller shape: half the batch, then half the sequence (down to 8 tokens). */
function shrink(batch: number, seq: number): { batch: number; seq: number } | undefined {
  if (batch > 1) return { batch: Math.ceil(batch / 2), seq };
  if (seq > 8) return { batch, seq: Math.ceil(seq / 2) };
  return undefined;
}

/** One tfjs backend setup: all modes, shrinking the batch (then seq) for passes that do not fit. */
async function runSetup(setup: string, o: BenchOptions, profile: boolean, rows: Row[], profiles: LabelledProfile[]): Promise<boolean> {
  const [backend = setup, threadsText] = setup.split(':');
  const threads = backend === 'wasm' ? Number(threadsText ?? 2) : 1;
  const done = new Set<string>();
  const failedAt = new Set<string>();
  const jobs: Job[] = [];
  const addJob = (batch: number, seq: number, modes: Mode[]) => {
    const job = jobs.find((j) => j.batch === batch && j.seq === seq);
    if (job) job.modes = MODES.filter((m) => job.modes.includes(m) || modes.includes(m));
    else jobs.push({ batch, seq, modes: MODES.filter((m) => modes.includes(m)) });
    jobs.sort((a, b) => b.batch * b.seq - a.batch * a.seq);
  };
  for (const mode of o.modes) {
    const learned = backend === 'wasm' ? fittedOnWasm.get(mode) : undefined;
    addJob(learned?.batch ?? o.batch, learned?.seq ?? o.seq, [mode]);
    if (learned && (learned.batch !== o.batch || learned.seq !== o.seq)) {
      say(`  ${setup}: ${mode} starts at ${learned.batch}×${learned.seq}, where it fitted on the previous wasm setup`);
    }
  }
  let available = false;
  let actualThreads = threads;
  for (let job = jobs.shift(); job !== undefined; job = jobs.shift()) {
    const { batch, seq } = job;
    const request: WorkerRequest = {
      backend,
      threads,
      layers: o.layers,
      heads: o.heads,
      d: o.d,
      vocab: o.vocab,
      batch,
      seq,
      steps: o.steps,
      warmup: o.warmup,
      modes: job.modes,
      profile,
      heapLimitMb: o.heapLimitMb,
    };
    const run = await tsxWorker(request);
    let failed: Mode | undefined;
    for (const line of run.lines) {
      if (line.type === 'unavailable') {
        const reason = line.reason.replace(/^backend \S+ is not available: /, '');
        say(`  ${setup.padEnd(12)} not available: ${reason}${line.hint ? `\n    ${line.hint}` : ''}`);
        rows.push(emptyRow({ source: 'tfjs', backend, status: 'unavailable', note: reason }, o));
        return false;
      }
      if (line.type === 'backend') {
        available = true;
        actualThreads = line.threads;
        if (line.fallbackReason) say(`  ${setup}: runs with ${line.threads} thread(s): ${line.fallbackReason}`);
      } else if (line.type === 'model') {
        say(`  ${setupLabel(backend, actualThreads)}: model built in ${line.buildS.toFixed(1)} s (${(line.params / 1e6).toFixed(1)} M parameters); ${job.modes.join(', ')} at ${batch}×${seq}`);
      } else if (line.type === 'result') {
        const row = resultRow('tfjs', backend, backend === 'wasm' ? actualThreads : null, line, o);
        rows.push(row);
        printResult(row);
        if (line.peakMemory) {
          say(`      tensors at peak: ${line.peakMemory}`);
          memoryNotes.push(`${setupLabel(backend, actualThreads)} ${line.mode} ${line.batch}×${line.seq}, tensors at peak: ${line.peakMemory}`);
        }
        done.add(`${line.mode}@${line.batch}x${line.seq}`);
        if (backend === 'wasm') fittedOnWasm.set(line.mode, { batch: line.batch, seq: line.seq });
      } else if (line.type === 'oom') {
        failed = line.mode;
        failedAt.add(`${line.mode}@${batch}x${seq}`);
        const row = emptyRow({ source: 'tfjs', backend, threads: actualThreads, mode: line.mode, batch, seq, status: 'oom', note: line.message }, o);
        rows.push(row);
        printResult(row);
        if (line.memory) {
          say(`      tensors at the failure: ${line.memory}`);
          memoryNotes.push(`${setupLabel(backend, actualThreads)} ${line.mode} ${batch}×${seq}, out of memory; tensors at the failure: ${line.memory}`);
        }
      } else if (line.type === 'error') {
        rows.push(emptyRow({ source: 'tfjs', backend, threads: actualThreads, mode: line.mode ?? null, batch, seq, status: 'error', note: line.message }, o));
        say(`  ${setup}: error: ${line.message}`);
      } else if (line.type === 'profile') {
        profiles.push({ ...line, setup: setupLabel(backend, actualThreads) });
      }
    }
    if (failed === undefined) {
      const missing = job.modes.filter((m) => !done.has(`${m}@${batch}x${seq}`));
      if (missing.length > 0 && available) {
        const why = run.stalled ? `stalled (no output for ${STALL_S} s)` : `worker exited with code ${run.code}`;
        say(`  ${setup}: ${missing.join(', ')} not measured at ${batch}×${seq}: ${why}`);
        for (const mode of missing) rows.push(emptyRow({ source: 'tfjs', backend, threads: actualThreads, mode, batch, seq, status: 'error', note: why }, o));
      }
      if (!available) {
        rows.push(emptyRow({ source: 'tfjs', backend, status: 'error', note: `worker exited with code ${run.code}` }, o));
        say(`  ${setup}: worker failed (exit code ${run.code})`);
        return false;
      }
      continue;
    }
    // Out of memory: the failed pass and the ones after it again, smaller, with plain fwd+bwd at
    // that size for the overhead comparison (unless it is known not to fit there).
    const rest = job.modes.slice(job.modes.indexOf(failed));
    const next = shrink(batch, seq);
    if (next === undefined) {
      say(`  ${setup}: ${rest.join(', ')} do not fit even at ${batch}×${seq}`);
      continue;
    }
    const partner: Mode[] = (failed === 'eap' || failed === 'fwd+bwd+probes') && !failedAt.has(`fwd+bwd@${next.batch}x${next.seq}`) && !done.has(`fwd+bwd@${next.batch}x${next.seq}`) ? ['fwd+bwd'] : [];
    say(`  ${setup}: ${failed} does not fit at ${batch}×${seq}; trying ${[...partner, ...rest].join(', ')} at ${next.batch}×${next.seq}`);
    addJob(next.batch, next.seq, [...partner, ...rest]);
  }
  return available;
}

/** PyTorch on the same shapes, when /usr/bin/python3 can import torch. */
async function runTorch(o: BenchOptions, shapes: { mode: Mode; batch: number; seq: number }[], rows: Row[]): Promise<void> {
  const check = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (check.status !== 0) {
    say(`  torch: not available (${PYTHON} cannot import torch); skipped.`);
    say('    install (Debian): apt-get update && apt-get install -y python3-torch libopenblas0-pthread');
    say('    (without libopenblas0-pthread torch runs on the slow reference BLAS)');
    rows.push(emptyRow({ source: 'torch', backend: 'torch', status: 'unavailable', note: `${PYTHON} cannot import torch` }, o));
    return;
  }
  const threads = Math.min(2, os.availableParallelism());
  const request = { threads, layers: o.layers, heads: o.heads, d: o.d, vocab: o.vocab, steps: o.steps, warmup: o.warmup, runs: shapes };
  const env = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  const run = await runWorker(PYTHON, [TORCH_SCRIPT, JSON.stringify(request)], env);
  for (const line of run.lines as unknown as Record<string, unknown>[]) {
    if (line['type'] === 'backend') {
      say(`  torch ${line['version']} (${line['threads']} threads, BLAS ${line['blas']}${line['openblas_loaded'] ? ', OpenBLAS loaded' : ''}, OMP_WAIT_POLICY=PASSIVE)`);
    } else if (line['type'] === 'result') {
      const row = resultRow('torch', 'torch', threads, line as unknown as ModeResult, o);
      rows.push(row);
      printResult(row);
    } else if (line['type'] === 'error') {
      rows.push(emptyRow({ source: 'torch', backend: 'torch', threads, mode: line['mode'] as Mode, status: 'error', note: String(line['message']) }, o));
      say(`  torch: error in ${line['mode']}: ${line['message']}`);
    }
  }
  if (run.code !== 0) say(`  torch: exited with code ${run.code}${run.stalled ? ' (stalled)' : ''}`);
}

/** Probe overheads (vs plain fwd+bwd at the same shape) and ratios to PyTorch. */
function derive(rows: Row[]): void {
  const key = (r: Row, mode: Mode | null = r.mode) => `${r.source}|${r.backend}|${r.threads}|${mode}|${r.batch}x${r.seq}`;
  const ok = new Map(rows.filter((r) => r.status === 'ok').map((r) => [key(r), r]));
  const torch = new Map(rows.filter((r) => r.source === 'torch' && r.status === 'ok').map((r) => [`${r.mode}|${r.batch}x${r.seq}`, r]));
  for (const r of rows) {
    if (r.status !== 'ok') continue;
    if (r.mode === 'fwd+bwd+probes' || r.mode === 'eap') {
      const plain = ok.get(key(r, 'fwd+bwd'));
      if (plain?.medianMs && r.medianMs) r.probeOverheadPct = (100 * r.medianMs) / plain.medianMs - 100;
    }
    if (r.source === 'tfjs') {
      const t = torch.get(`${r.mode}|${r.batch}x${r.seq}`);
      if (t?.tokensPerS && r.tokensPerS) r.vsTorch = r.tokensPerS / t.tokensPerS;
    }
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), process.env);
  const started = performance.now();
  const outDir = resolve(o.outDir ?? join(repoRoot, 'bench-results'));
  const explicitBackends = o.backends !== DEFAULTS.backends;
  say(`throughput bench: GPT-2-shaped model, ${o.layers} layers, ${o.heads} heads, d ${o.d}, vocab ${o.vocab}, random weights`);
  say(
    `  ${(parameterCount(o) / 1e6).toFixed(1)} M parameters; batch ${o.batch} × seq ${o.seq} = ${o.batch * o.seq} tokens/step; ` +
      `${o.warmup} warm-up + ${o.steps} timed steps per pass (up to ${3 * o.steps} until 10 s are timed; median); ${(forwardFlops(o, o.batch, o.seq) / 1e9).toFixed(1)} GFLOP per forward`,
  );
  const load0 = os.loadavg()[0] ?? 0;
  say(`  host: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, Node ${process.version}; load average ${load0.toFixed(2)}`);
  if (load0 > 0.5) say(`  WARNING: the machine is busy (load ${load0.toFixed(2)} on ${os.availableParallelism()} cores): timings will be low and noisy`);
  for (const mode of o.modes) say(`  ${mode.padEnd(15)} ${MODE_HELP[mode]}`);
  say();

  const rows: Row[] = [];
  const profiles: LabelledProfile[] = [];
  let profiled = false;
  for (const setup of o.backends) {
    if (setup === 'cpu' && !explicitBackends && !o.quick) {
      const stepS = (3 * forwardFlops(o, o.batch, o.seq)) / (CPU_GFLOPS * 1e9);
      if (stepS > CPU_MAX_STEP_S) {
        const why = `about ${Math.round(stepS)} s per fwd+bwd step at ~${CPU_GFLOPS} GFLOP/s (pure JS); force with --backends cpu --steps 1 --warmup 0`;
        say(`  cpu          skipped: ${why}`);
        rows.push(emptyRow({ source: 'tfjs', backend: 'cpu', status: 'skipped', note: why }, o));
        continue;
      }
    }
    const wantProfile = o.profile && !profiled && setup.startsWith('wasm');
    const available = await runSetup(setup, o, wantProfile, rows, profiles);
    if (wantProfile && available) profiled = true;
  }

  if (o.torch) {
    say();
    const shapes = new Map<string, { mode: Mode; batch: number; seq: number }>();
    for (const mode of o.modes) shapes.set(`${mode}@${o.batch}x${o.seq}`, { mode, batch: o.batch, seq: o.seq });
    for (const r of rows) if (r.source === 'tfjs' && r.status === 'ok' && r.mode) shapes.set(`${r.mode}@${r.batch}x${r.seq}`, { mode: r.mode, batch: r.batch, seq: r.seq });
    await runTorch(o, [...shapes.values()], rows);
  }
  derive(rows);

  const wallS = (performance.now() - started) / 1000;
  say();
  say(formatTable(rows));
  say(`\nprobe cost = step time over plain fwd+bwd at the same backend and B×T; vs torch = tokens/s over PyTorch's (same pass and B×T).`);

  mkdirSync(outDir, { recursive: true });
  const tablePath = join(outDir, 'throughput.arrow');
  const meta: Record<string, string> = {
    'bench.model': JSON.stringify({ layers: o.layers, heads: o.heads, d: o.d, vocab: o.vocab, params: parameterCount(o) }),
    'bench.steps': JSON.stringify({ warmup: o.warmup, steps: o.steps }),
    'bench.host': JSON.stringify({ cpu: os.cpus()[0]?.model ?? null, cores: os.availableParallelism(), memGiB: os.totalmem() / 2 ** 30, node: process.version }),
    'bench.wall_s': wallS.toFixed(1),
    'bench.load_average': JSON.stringify({ start: load0, end: os.loadavg()[0] ?? null }),
    'bench.date': new Date().toISOString(),
  };
  await writeArrowTable(tablePath, ThroughputTable, tableColumns(rows), { producer: 'bench:model/throughput@1', extra: meta });
  say(`\nwrote ${tablePath} (${rows.length} rows)`);

  if (profiles.length > 0) {
    const text = [
      `# Kernel profile: one step of each pass (tf.profile), ${o.layers} layers, d ${o.d}, vocab ${o.vocab}`,
      'Self time = a kernel minus the kernels it ran inside itself; matmul GFLOP/s counts 2·m·k·n per product.',
      '',
      ...profiles.map((p) => `${formatProfile(p)}\n`),
      '# wasm memory: live tensor allocations (JavaScript-side mallocs) grouped by size',
      'XNNPACK keeps, in addition, a packed copy of every matrix used as the right operand of a matmul while that matrix lives.',
      ...memoryNotes.map((n) => `- ${n}`),
      '',
    ].join('\n');
    const profilePath = join(outDir, 'throughput-profile.txt');
    writeFileSync(profilePath, text);
    say();
    for (const p of profiles.filter((q) => q.mode === 'fwd+bwd' || q.mode === 'fwd+bwd+probes')) say(`${formatProfile(p)}\n`);
    say(`wrote ${profilePath}`);
  }
  say(`bench wall time ${wallS.toFixed(0)} s; load average ${load0.toFixed(2)} at the start, ${(os.loadavg()[0] ?? 0).toFixed(2)} at the end`);
}

await main();
