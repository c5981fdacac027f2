/**
 * One backend in one process (tfjs backends are global per process): builds the GPT-2-shaped model
 * with random weights and times each requested pass, printing one JSON line per result (see
 * options.ts). Started by throughput.bench.ts with the request as its only argument:
 *
 *   tsx bench/throughput-worker.ts '{"backend":"wasm","threads":2,"layers":12,...}'
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CircuitTuningError } from '@circuit-tuning/contracts';
import { type BackendRequest, initBackend, shutdownBackend, tf } from '@circuit-tuning/runtime';
import { type ModelConfig, gpt2Config, parameterSpecs, type ReaderProbes, TransformerModel } from '../src/index';
import { HeapGuard, HeapLimitError, type SizeGroup } from './heap-guard';
import { crossEntropy, type NextTokenBatch, nextTokenBatch } from './loss';
import { type KernelRow, LINE_PREFIX, type Mode, type ModeResult, type ProfileResult, type WorkerLine, type WorkerRequest } from './options';

const emit = (line: WorkerLine) => process.stdout.write(`${LINE_PREFIX}${JSON.stringify(line)}\n`);
const log = (line: string) => process.stderr.write(`${line}\n`);

const request = JSON.parse(process.argv[2] ?? '{}') as WorkerRequest;
/** Short steps are repeated until this much has been timed (more samples for the median). */
const MIN_TIMED_S = 10;

async function main(): Promise<number> {
  try {
    const info = await initBackend({ backend: request.backend as BackendRequest, threads: request.threads, log: () => {} });
    emit({
      type: 'backend',
      name: info.name,
      threads: info.threads,
      simd: info.simd,
      tfjs: info.tfjsVersion,
      ...(info.fallbackReason === undefined ? {} : { fallbackReason: info.fallbackReason }),
    });
  } catch (error) {
    const hint = error instanceof CircuitTuningError ? error.hint : undefined;
    emit({ type: 'unavailable', reason: firstLine(error), ...(hint === undefined ? {} : { hint }) });
    return 0;
  }
  const guard = HeapGuard.install(request.heapLimitMb * 2 ** 20);
  const built = performance.now();
  const config = gpt2Config({
    nLayers: request.layers,
    nHeads: request.heads,
    dModel: request.d,
    vocabSize: request.vocab,
    maxPositions: Math.max(1024, request.seq),
  });
  const model = fastRandomModel(config, 1);
  emit({ type: 'model', params: model.params.count(), buildS: (performance.now() - built) / 1000 });
  const bench = new Bench(model, request.batch, request.seq, guard);
  try {
    for (const mode of request.modes) {
      let result: ModeResult;
      try {
        result = await bench.measure(mode, request.warmup, request.steps);
      } catch (error) {
        if (!isOutOfMemory(error)) throw error;
        emit({
          type: 'oom',
          mode,
          batch: request.batch,
          seq: request.seq,
          message: firstLine(error),
          ...(guard ? { memory: bench.describe(guard.composition()) } : {}),
        });
        return 3; // the tape may hold tensors now: the bench retries smaller in a fresh process
      }
      emit(result);
      if (request.profile) emit(await bench.profile(mode));
    }
  } catch (error) {
    emit({ type: 'error', message: firstLine(error) });
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    return 1;
  } finally {
    bench.dispose();
    model.dispose();
  }
  return 0;
}

class Bench {
  private readonly data: NextTokenBatch;
  private readonly params: tf.Variable[];
  private probes: { probes: ReaderProbes; variables: tf.Variable[] } | undefined;

  constructor(
    private readonly model: TransformerModel,
    private readonly batch: number,
    private readonly seq: number,
    private readonly guard: HeapGuard | undefined,
  ) {
    this.data = nextTokenBatch(batch, seq, model.config.vocabSize);
    this.params = model.params.entries().map(([, v]) => v);
  }

  /** Zero reader probes as trainable variables, so that tf.variableGrads differentiates them. */
  private readerProbes(): { probes: ReaderProbes; variables: tf.Variable[] } {
    if (this.probes) return this.probes;
    const { nLayers, nHeads, dModel } = this.model.config;
    const tokens = this.batch * this.seq;
    const name = (what: string) => `bench.probe.${what}`;
    const probes: ReaderProbes = {
      attention: Array.from({ length: nLayers }, (_, l) => tf.tidy(() => tf.variable(tf.zeros([3 * nHeads, tokens, dModel]) as tf.Tensor3D, true, name(`attention.${l}`)))),
      mlp: Array.from({ length: nLayers }, (_, l) => tf.tidy(() => tf.variable(tf.zeros([tokens, dModel]) as tf.Tensor2D, true, name(`mlp.${l}`)))),
      logits: tf.tidy(() => tf.variable(tf.zeros([tokens, dModel]) as tf.Tensor2D, true, name('logits'))),
    };
    const variables = [...probes.attention, ...probes.mlp, probes.logits] as tf.Variable[];
    this.probes = { probes, variables };
    return this.probes;
  }

  /** One step of a mode; resolves when every result of the step is computed, to the loss. */
  step(mode: Mode): () => Promise<number> {
    const { model, data } = this;
    const loss = (probes?: ReaderProbes) => () => crossEntropy(model.forward(data.input, probes ? { probes } : {}).logits, data.targets);
    if (mode === 'forward') {
      return async () => {
        const value = tf.tidy(loss());
        const out = (await value.data())[0]!;
        value.dispose();
        return out;
      };
    }
    const withProbes = mode !== 'fwd+bwd' ? this.readerProbes() : undefined;
    const wrt = mode === 'fwd+bwd' ? this.params : mode === 'eap' ? withProbes!.variables : [...this.params, ...withProbes!.variables];
    // The gradient computed last in the backward pass: reading it waits for all on async backends.
    const last = mode === 'eap' ? withProbes!.variables[0]!.name : model.params.get('embed.W_E').name;
    return async () => {
      const { value, grads } = tf.variableGrads(loss(withProbes?.probes), wrt);
      await grads[last]!.data();
      const out = (await value.data())[0]!;
      value.dispose();
      tf.dispose(grads);
      return out;
    };
  }

  /** Times `steps` steps, and more (up to 3 × steps) until MIN_TIMED_S have been timed. */
  async measure(mode: Mode, warmup: number, steps: number): Promise<ModeResult> {
    const run = this.step(mode);
    resetPeakRss();
    this.guard?.resetPeak();
    for (let i = 0; i < warmup; i++) {
      const t0 = performance.now();
      await run();
      log(`  ${mode}: warm-up ${i + 1}/${warmup} ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    }
    const tensorsBefore = tf.memory().numTensors;
    const stepMs: number[] = [];
    let loss = Number.NaN;
    const total = () => stepMs.reduce((a, b) => a + b, 0);
    for (let i = 0; i < 3 * steps && (i < steps || total() < MIN_TIMED_S * 1000); i++) {
      const t0 = performance.now();
      loss = await run();
      stepMs.push(performance.now() - t0);
      log(`  ${mode}: step ${i + 1} ${((stepMs.at(-1) ?? 0) / 1000).toFixed(2)} s`);
    }
    const leaked = tf.memory().numTensors - tensorsBefore;
    if (leaked !== 0) log(`  ${mode}: ${leaked} tensors more after the timed steps (leak?)`);
    const medianMs = median(stepMs);
    const tokens = this.batch * this.seq;
    return {
      type: 'result',
      mode,
      batch: this.batch,
      seq: this.seq,
      tokens,
      stepMs,
      medianMs,
      tokensPerS: (tokens * 1000) / medianMs,
      loss,
      peakRssMb: peakRssMb(),
      ...(this.guard
        ? {
            heapMb: this.guard.heapBytes / 2 ** 20,
            liveTensorPeakMb: this.guard.peakBytes / 2 ** 20,
            peakMemory: this.describe(this.guard.peakComposition()),
          }
        : {}),
    };
  }

  /**
   * One step under tf.profile, with self times: the backend's timer is wrapped so that a kernel
   * that runs other kernels (composite kernels) is not counted twice.
   */
  async profile(mode: Mode): Promise<ProfileResult> {
    const run = this.step(mode);
    type Timer = (f: () => void) => Promise<{ kernelMs: number }>;
    const backend = tf.backend() as unknown as { time: Timer };
    const original = backend.time;
    const selfMs: number[] = [];
    const children: number[] = [];
    backend.time = (f) => {
      children.push(0);
      const t0 = performance.now();
      try {
        f();
      } finally {
        const total = performance.now() - t0;
        const inner = children.pop() ?? 0;
        if (children.length > 0) children[children.length - 1]! += total;
        selfMs.push(total - inner);
      }
      return Promise.resolve({ kernelMs: selfMs.at(-1) ?? 0 });
    };
    const t0 = performance.now();
    let info: Awaited<ReturnType<typeof tf.profile>>;
    try {
      info = await tf.profile(run);
    } finally {
      backend.time = original;
    }
    const wallMs = performance.now() - t0;
    const byName = new Map<string, KernelRow>();
    const byShape = new Map<string, KernelRow>();
    const add = (map: Map<string, KernelRow>, name: string, ms: number) => {
      const row = map.get(name) ?? { name, calls: 0, ms: 0 };
      row.calls++;
      row.ms += ms;
      map.set(name, row);
    };
    let kernelMs = 0;
    let matmulMs = 0;
    let matmulFlops = 0;
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      kernelMs += ms;
      if (MATMUL_KERNELS.has(k.name)) {
        matmulMs += ms;
        matmulFlops += matmulFlopsOf(k.inputShapes[0] ?? null, k.outputShapes[0] ?? null);
      }
      add(byName, k.name, ms);
      add(byShape, `${k.name} ${k.inputShapes.map((s) => (s ? `[${s.join(',')}]` : '-')).join(' ')}`, ms);
    }
    const top = (map: Map<string, KernelRow>, n: number) => [...map.values()].sort((a, b) => b.ms - a.ms).slice(0, n);
    return {
      type: 'profile',
      mode,
      batch: this.batch,
      seq: this.seq,
      wallMs,
      kernelMs,
      kernels: info.kernels.length,
      matmulMs,
      matmulFlops,
      byName: top(byName, 40),
      byShape: top(byShape, 40),
    };
  }

  /** Names allocation sizes by the shapes of this model and batch that have that size. */
  private shapeNames(): Map<number, string> {
    const { nHeads, dModel, dMlp, vocabSize } = this.model.config;
    const tokens = this.batch * this.seq;
    const names = new Map<number, string>();
    const add = (shape: number[], what: string) => {
      const bytes = 4 * shape.reduce((a, b) => a * b, 1);
      const label = `[${shape.join(',')}] ${what}`;
      names.set(bytes, names.has(bytes) ? `${names.get(bytes)} | ${label}` : label);
    };
    add([vocabSize, dModel], 'W_E-sized');
    add([tokens, vocabSize], 'logits-sized');
    add([dModel, dMlp], 'W_in/W_out-sized');
    add([dModel, dModel], 'W_Q/K/V/O-sized');
    add([3 * nHeads, tokens, dModel], 'attention reader inputs');
    add([tokens, dMlp], 'MLP hidden');
    add([tokens, dModel], 'residual');
    add([this.batch * nHeads, this.seq, this.seq], 'attention scores');
    return names;
  }

  /** "3 × 147 MB [50257,768] W_E-sized, …" for the largest groups of live allocations. */
  describe(groups: SizeGroup[], top = 8): string {
    const names = this.shapeNames();
    const total = groups.reduce((a, g) => a + g.bytes * g.count, 0);
    const mb = (b: number) => (b / 2 ** 20 >= 10 ? (b / 2 ** 20).toFixed(0) : (b / 2 ** 20).toFixed(1));
    const shown = groups.filter((g) => g.bytes * g.count >= total / 100).slice(0, top);
    const parts = shown.map((g) => `${g.count} × ${mb(g.bytes)} MB${names.has(g.bytes) ? ` ${names.get(g.bytes)}` : ''}`);
    const rest = total - shown.reduce((a, g) => a + g.bytes * g.count, 0);
    return `${mb(total)} MB live: ${parts.join(', ')}${rest > 0 ? `, other ${mb(rest)} MB` : ''}`;
  }

  dispose(): void {
    this.data.dispose();
    if (this.probes) tf.dispose(this.probes.variables);
  }
}

// CircuitTuning*: the runtime's and the model's matmul kernels with lazy gradients (they run BatchMatMul).
const MATMUL_KERNELS = new Set(['BatchMatMul', '_FusedMatMul', 'MatMul', 'CircuitTuningMatMul', 'CircuitTuningMatMulVariableB', 'CircuitTuningUnembed', 'CircuitTuningUnembedVariable']);

/** 2·batch·m·k·n from the shapes of a (…, m, k or k, m) and of the output (…, m, n). */
function matmulFlopsOf(a: number[] | null, out: number[] | null): number {
  if (!a || !out || a.length < 2 || out.length < 2) return 0;
  const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
  const m = out[out.length - 2]!;
  const k = (a[a.length - 1]! * a[a.length - 2]!) / m;
  return 2 * size(out) * k;
}

/**
 * A model with random weights, built in about a second: uniform values with GPT-2's standard
 * deviations (0.02, residual projections 0.02/√(2·layers)) from an LCG, norms 1, biases 0.
 * TransformerModel.random draws normals from the seeded stage RNG, which takes 5–10 s for 124 M
 * parameters, once per worker process; throughput does not depend on the values.
 */
function fastRandomModel(config: ModelConfig, seed: number): TransformerModel {
  const values = new Map<string, tf.Tensor>();
  let state = (seed * 2654435761) >>> 0;
  for (const spec of parameterSpecs(config)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.role === 'norm-weight') values.set(spec.name, tf.ones(spec.shape));
    else if (spec.role === 'norm-bias' || spec.role === 'bias') values.set(spec.name, tf.zeros(spec.shape));
    else {
      const residual = spec.name.endsWith('attn.W_O') || spec.name.endsWith('mlp.W_out');
      const halfWidth = Math.sqrt(3) * (residual ? 0.02 / Math.sqrt(2 * config.nLayers) : 0.02); // uniform with that std
      const data = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        data[i] = (state / 2 ** 31 - 1) * halfWidth;
      }
      values.set(spec.name, tf.tensor(data, spec.shape));
    }
  }
  try {
    return new TransformerModel(config, values);
  } finally {
    for (const t of values.values()) t.dispose();
  }
}

function isOutOfMemory(error: unknown): boolean {
  if (error instanceof HeapLimitError) return true;
  const text = firstLine(error);
  return /memory access out of bounds|out of memory|Cannot enlarge memory|Array buffer allocation failed/i.test(text);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Resets the kernel's peak-RSS counter (VmHWM) of this process, where Linux allows it. */
function resetPeakRss(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // not Linux, or not allowed: the peak is then the process's peak so far
  }
}

function peakRssMb(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // fall through
  }
  return process.memoryUsage().rss / 2 ** 20;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}

const code = await main();
try {
  await shutdownBackend();
} catch {
  // a wasm backend that overran its heap cannot be shut down cleanly; the process exits anyway
}
process.exit(code);
