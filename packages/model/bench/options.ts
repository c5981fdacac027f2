/**
 * Options of the throughput bench (flags > CT_BENCH_* environment variables > defaults) and the
 * JSON-line protocol between the bench and its per-backend worker processes.
 */

/** The measured passes, in the order a worker runs them (roughly increasing memory). */
export const MODES = ['forward', 'fwd+bwd', 'eap', 'fwd+bwd+probes'] as const;
export type Mode = (typeof MODES)[number];

export const MODE_HELP: Readonly<Record<Mode, string>> = {
  forward: 'forward pass and loss, no tape',
  'fwd+bwd': 'loss and gradients w.r.t. all parameters (tf.variableGrads)',
  eap: 'loss and gradients w.r.t. the reader probes only (EAP scores)',
  'fwd+bwd+probes': 'loss and gradients w.r.t. all parameters AND the reader probes, one backward pass',
};

export function isMode(value: string): value is Mode {
  return (MODES as readonly string[]).includes(value);
}

/** Model and batch shape. */
export interface Shape {
  layers: number;
  heads: number;
  d: number;
  vocab: number;
  batch: number;
  seq: number;
}

export interface BenchOptions extends Shape {
  /** Timed steps per mode (the median is reported), after `warmup` untimed ones. */
  steps: number;
  warmup: number;
  /** Backend setups to run, e.g. `wasm:2`, `wasm:1`, `cpu`, `tensorflow`, `webgpu`. */
  backends: string[];
  modes: Mode[];
  /** Compare with PyTorch (needs /usr/bin/python3 with torch). */
  torch: boolean;
  /** Profile one step of each mode on the first wasm setup. */
  profile: boolean;
  quick: boolean;
  /** Where results go (default: <repo>/bench-results). */
  outDir: string | undefined;
  /** A wasm tensor allocation ending above this heap address (MB) declares the pass out of memory. */
  heapLimitMb: number;
}

/** GPT-2 small: 12 layers, 12 heads, d 768, vocabulary 50257; batch 8 × 64 tokens. */
export const DEFAULTS: BenchOptions = {
  layers: 12,
  heads: 12,
  d: 768,
  vocab: 50257,
  batch: 8,
  seq: 64,
  steps: 3,
  warmup: 1,
  backends: ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm:2', 'wasm:1', 'cpu'],
  modes: [...MODES],
  torch: true,
  profile: true,
  quick: false,
  outDir: undefined,
  // wasm32 caps the heap at 4 GiB; past it the threaded backend hangs (docs/runtime.md §6). The 256 MB
  // margin is for what the C++ side allocates itself (XNNPACK's packed weights, at most 154 MB each).
  heapLimitMb: 3840,
};

/** A small model for a fast check of the whole pipeline (every backend, cpu included). */
export const QUICK: Partial<BenchOptions> = {
  layers: 2,
  heads: 4,
  d: 128,
  vocab: 1000,
  batch: 4,
  seq: 32,
  steps: 5,
  warmup: 2,
};

const NUMERIC = ['layers', 'heads', 'd', 'vocab', 'batch', 'seq', 'steps', 'warmup', 'heapLimitMb'] as const;
type NumericKey = (typeof NUMERIC)[number];

const envName = (key: string) => `CT_BENCH_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export const USAGE = `throughput bench: forward / fwd+bwd / EAP / fwd+bwd+probes tokens/s per backend, vs PyTorch
  pnpm --filter @circuit-tuning/model bench [-- flags]
flags (or environment variables):
  --quick                                   small model (2 layers, d 128, vocab 1000), all backends incl. cpu
  ${NUMERIC.map((k) => `${flagName(k)} N (${envName(k)})`).join('\n  ')}
  --backends a,b,... (CT_BENCH_BACKENDS)    default ${DEFAULTS.backends.join(',')}; wasm:N = N threads
  --modes a,b,...    (CT_BENCH_MODES)       default ${MODES.join(',')}
  --no-torch         (CT_BENCH_TORCH=0)     skip the PyTorch comparison
  --no-profile       (CT_BENCH_PROFILE=0)   skip the kernel profile
  --out DIR          (CT_BENCH_OUT)         default <repo>/bench-results`;

export function parseOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): BenchOptions {
  const flags = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}'\n${USAGE}`);
    const [name, inline] = arg.split('=', 2) as [string, string | undefined];
    if (['--quick', '--no-torch', '--no-profile', '--help'].includes(name)) {
      switches.add(name);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
    flags.set(name, value);
  }
  if (switches.has('--help')) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = switches.has('--quick') || env['CT_BENCH_QUICK'] === '1';
  const options: BenchOptions = { ...DEFAULTS, ...(quick ? QUICK : {}), quick };
  const pick = (key: string): string | undefined => flags.get(flagName(key)) ?? nonEmpty(env[envName(key)]);
  for (const key of NUMERIC) {
    const raw = pick(key);
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < (key === 'warmup' ? 0 : 1)) throw new Error(`${flagName(key)} must be a positive integer, got '${raw}'`);
    (options as Record<NumericKey, number>)[key] = n;
  }
  const backends = pick('backends');
  if (backends !== undefined) options.backends = splitList(backends);
  const modes = pick('modes');
  if (modes !== undefined) {
    const list = splitList(modes);
    for (const m of list) if (!isMode(m)) throw new Error(`unknown mode '${m}' (modes: ${MODES.join(', ')})`);
    options.modes = MODES.filter((m) => list.includes(m));
  }
  if (switches.has('--no-torch') || env['CT_BENCH_TORCH'] === '0') options.torch = false;
  if (switches.has('--no-profile') || env['CT_BENCH_PROFILE'] === '0') options.profile = false;
  options.outDir = pick('out');
  if (options.d % options.heads !== 0) throw new Error(`d (${options.d}) must be a multiple of heads (${options.heads})`);
  return options;
}

const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
const splitList = (v: string) => v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

// ---- Worker protocol: one JSON object per stdout line, after this prefix ------------------------

export const LINE_PREFIX = '@ct-bench ';

export interface WorkerRequest extends Shape {
  backend: string;
  threads: number;
  steps: number;
  warmup: number;
  modes: Mode[];
  profile: boolean;
  heapLimitMb: number;
}

/** One timed pass. */
export interface ModeResult {
  type: 'result';
  mode: Mode;
  batch: number;
  seq: number;
  /** Tokens per step: batch × seq. */
  tokens: number;
  stepMs: number[];
  medianMs: number;
  tokensPerS: number;
  loss: number;
  /** Peak resident set of the worker during this pass (VmHWM after a reset), MB. */
  peakRssMb: number;
  /** wasm only: heap size after the pass and the largest tracked tensor bytes during it, MB. */
  heapMb?: number;
  liveTensorPeakMb?: number;
  /** wasm only: the live tensor allocations at the peak, grouped by size (see heap-guard.ts). */
  peakMemory?: string;
}

export interface KernelRow {
  name: string;
  calls: number;
  /** Self time: the kernel minus kernels it ran inside itself. */
  ms: number;
}

export interface ProfileResult {
  type: 'profile';
  mode: Mode;
  batch: number;
  seq: number;
  wallMs: number;
  kernelMs: number;
  kernels: number;
  /** Self time and FLOPs of the matmul kernels (BatchMatMul, _FusedMatMul). */
  matmulMs: number;
  matmulFlops: number;
  byName: KernelRow[];
  byShape: KernelRow[];
}

export type WorkerLine =
  | { type: 'backend'; name: string; threads: number; simd: boolean; fallbackReason?: string; tfjs: string }
  | { type: 'unavailable'; reason: string; hint?: string }
  | { type: 'model'; params: number; buildS: number }
  | ModeResult
  | { type: 'oom'; mode: Mode; batch: number; seq: number; message: string; memory?: string }
  | { type: 'error'; mode?: Mode; message: string }
  | ProfileResult;
