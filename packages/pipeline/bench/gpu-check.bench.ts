/**
 * Issue 18's device check, the TypeScript side: on one backend (webgpu on a GPU machine, or any
 * other for comparison), the GPT-2-small shape's
 *   (a) training step (forward, backward, one Adam step over every parameter) in tokens/s at 16 × 64;
 *   (b) one EAP pass (discovery's scoreEdges: corrupted forward, probed clean forward/backward,
 *       edge contraction) over 32 prompts × 32 tokens;
 *   (c) one circuit-tuning step at 16 × 64: EAP on the stage's 32 prompts, top-N 1,000 edges through
 *       training's CircuitPlanner, then the masked update of the circuit's parameter slices (the
 *       step of packages/training/bench/circuit-step.ts, one process, no micro-batches);
 *   (d) the per-kernel profile of one training step (tf.profile: kernel names and times).
 * `--shape tiny` is a small model for software adapters and CI; the PyTorch twin of the same
 * shapes is scripts/gpu-check/torch_bench.py, and scripts/gpu-check/run.sh runs both on a GPU
 * machine from the bundle scripts/gpu-check/pack.sh makes (README, "GPU device check").
 *
 * Reads are async only (`await t.data()`): synchronous reads fail on webgpu under Node
 * (docs/runtime.md §7). A GPU runs kernels asynchronously, so each timed step ends with a read
 * that waits for the queue.
 *
 *   pnpm --filter @circuit-tuning/pipeline exec tsx bench/gpu-check.bench.ts --backend webgpu
 *       [--shape gpt2-small|tiny] [--warmup 1] [--repeats 3] [--out FILE.json] [--skip train,eap,circuit,profile]
 */
import { writeFileSync } from 'node:fs';
import { hostname, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { batchPrompts, type PromptExample, rowsPerPass, scoreEdges } from '@circuit-tuning/discovery';
import { gpt2Config, TransformerModel } from '@circuit-tuning/model';
import { type BackendRequest, backendInfo, createRng, initBackend, shutdownBackend, tf } from '@circuit-tuning/runtime';
import { createOptimizer, nextTokenLoss } from '@circuit-tuning/training';
import type { Shape } from '../../model/bench/options';
import { measureStep } from '../../training/bench/circuit-step';

/** A model and the three workloads' sizes: the model benches' shape, and the EAP pass's prompts. */
interface CheckShape extends Shape {
  prompts: number;
  promptTokens: number;
  topN: number;
}

const SHAPES: Record<string, CheckShape> = {
  // The paper's scale (fixtures/pipelines/gpt2-small.yaml): GPT-2 small, 16 × 64, EAP on 32 prompts × 32 tokens, top-N 1,000.
  'gpt2-small': { layers: 12, heads: 12, d: 768, vocab: 50257, batch: 16, seq: 64, prompts: 32, promptTokens: 32, topN: 1000 },
  // Small enough for a software adapter (llvmpipe) in a minute: the same code paths, 2 layers of width 128.
  tiny: { layers: 2, heads: 4, d: 128, vocab: 2000, batch: 4, seq: 32, prompts: 8, promptTokens: 16, topN: 40 },
};

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'webgpu' },
    shape: { type: 'string', default: 'gpt2-small' },
    warmup: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '3' },
    out: { type: 'string' },
    skip: { type: 'string', default: '' },
  },
});
const shapeName = String(values.shape);
const shape = SHAPES[shapeName];
if (shape === undefined) throw new Error(`unknown --shape '${shapeName}' (shapes: ${Object.keys(SHAPES).join(', ')})`);
const warmup = Number(values.warmup);
const repeats = Number(values.repeats);
const skip = new Set(String(values.skip).split(',').filter(Boolean));
const say = (line: string) => process.stderr.write(`${line}\n`);

interface KernelTime {
  name: string;
  ms: number;
  calls: number;
}

interface CheckResults {
  backend: string;
  /** The adapter on webgpu (from the backend line), else the backend's threads. */
  device: string;
  backendLine: string;
  shapeName: string;
  shape: CheckShape;
  node: string;
  host: string;
  date: string;
  warmup: number;
  repeats: number;
  /** On webgpu: the device's limits that bound a tensor (bytes) and whether kernels can be timed. */
  webgpuDevice?: { maxStorageBufferBindingSize: number; maxBufferSize: number; timestampQuery: boolean };
  /** The host's 1-, 5- and 15-minute load averages before and after: CPU numbers on a shared machine need them. */
  loadAverage: { start: number[]; end?: number[] };
  train?: { tokensPerS: number; medianMs: number; stepMs: number[]; loss: number };
  eap?: { tokensPerS: number; seconds: number; edges: number; rowsPerPass: number };
  circuitStep?: { tokensPerS: number; medianMs: number; discoveryMs: number; trainable: number; parameters: number; circuitEdges?: number; circuitNodes?: number };
  profile?: { timing: string; stepMs: number; kernelMs: number; kernels: KernelTime[] };
  errors: { what: string; message: string; stack?: string }[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

function randomModel(): Promise<TransformerModel> {
  return TransformerModel.random(
    gpt2Config({ nLayers: shape!.layers, nHeads: shape!.heads, dModel: shape!.d, vocabSize: shape!.vocab, maxPositions: 1024 }),
    1,
  );
}

/** (a) and (d): full training steps with Adam on one random 16 × 64 batch; the profile of one more. */
async function trainAndProfile(results: CheckResults): Promise<void> {
  const s = shape!;
  const model = await randomModel();
  const optimizer = createOptimizer({ kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
  const rng = createRng(1);
  const ids = tf.tensor2d(Int32Array.from({ length: s.batch * s.seq }, () => rng.nextInt(s.vocab)), [s.batch, s.seq], 'int32');
  const weights = tf.onesLike(ids).toFloat() as tf.Tensor2D;
  const vars = model.params.entries();
  // The last read of a step: the smallest parameter, written by the update, so reading it waits
  // for the optimizer's kernels too (one queue) without copying a large tensor back.
  const [, smallest] = vars.reduce((a, b) => (b[1].size < a[1].size ? b : a));
  const step = async (): Promise<number> => {
    const { value, grads } = tf.variableGrads(() => nextTokenLoss(model.logits(ids), ids, weights), vars.map(([, v]) => v));
    const loss = (await value.data())[0] ?? Number.NaN;
    optimizer.apply(
      vars.map(([name, variable]) => ({ name, variable, grad: grads[variable.name] as tf.Tensor })),
      1e-4,
    );
    tf.dispose([value, ...Object.values(grads)]);
    await smallest.data();
    return loss;
  };
  try {
    if (!skip.has('train')) {
      for (let i = 0; i < warmup; i++) say(`  train warm-up ${i + 1}: ${(await timed(step)).toFixed(0)} ms`);
      const stepMs: number[] = [];
      let loss = Number.NaN;
      for (let i = 0; i < repeats; i++) {
        const t0 = performance.now();
        loss = await step();
        stepMs.push(performance.now() - t0);
        say(`  train step ${i + 1}: ${stepMs.at(-1)!.toFixed(0)} ms`);
      }
      // Next-token loss on random tokens is about ln(vocab); 0 or NaN means kernels did not run
      // (e.g. a WebGPU validation error: a tensor larger than the adapter's
      // maxStorageBufferBindingSize, 128 MiB on some adapters, is then read back as zeros).
      if (!(loss > 1)) throw new Error(`the training loss is ${loss} (about ${Math.log(s.vocab).toFixed(1)} expected): the backend computed nonsense; see the errors above`);
      const medianMs = median(stepMs);
      results.train = { tokensPerS: (s.batch * s.seq * 1000) / medianMs, medianMs, stepMs, loss };
    }
    if (!skip.has('profile')) {
      if (skip.has('train')) await step(); // the profile times a warm step
      const t0 = performance.now();
      const info = await tf.profile(step);
      const stepMs = performance.now() - t0;
      const byName = new Map<string, { ms: number; calls: number }>();
      for (const k of info.kernels) {
        const entry = byName.get(k.name) ?? { ms: 0, calls: 0 };
        // On webgpu a kernel's time is a GPU timestamp-query interval when the adapter grants the
        // 'timestamp-query' feature, else tfjs-backend-webgpu reports 0 (or an error object).
        const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : Number.NaN;
        entry.ms += Number.isFinite(ms) ? ms : 0;
        entry.calls += 1;
        byName.set(k.name, entry);
      }
      const kernels = [...byName].map(([name, e]) => ({ name, ...e })).sort((x, y) => y.ms - x.ms || y.calls - x.calls);
      const kernelMs = kernels.reduce((sum, k) => sum + k.ms, 0);
      const timing = kernelMs > 0 ? (tf.getBackend() === 'webgpu' ? 'gpu timestamp queries' : 'kernel wall time') : 'none (no kernel timer on this adapter: calls only)';
      results.profile = { timing, stepMs, kernelMs, kernels };
    }
  } finally {
    tf.dispose([ids, weights]);
    optimizer.dispose();
    model.dispose();
  }
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

/** (b): one EAP pass over `prompts` random prompts (three tokens corrupted each, as discovery's eap.bench.ts). */
async function eapPass(results: CheckResults): Promise<void> {
  const s = shape!;
  const model = await randomModel();
  try {
    const rng = createRng(3);
    const examples: PromptExample[] = Array.from({ length: s.prompts }, (_, id) => {
      const clean = Array.from({ length: s.promptTokens }, () => rng.nextInt(s.vocab));
      const corrupt = clean.slice();
      for (let k = 0; k < 3; k++) corrupt[rng.nextInt(s.promptTokens)] = rng.nextInt(s.vocab);
      return { id, clean, corrupt, pos: s.promptTokens - 1, answer: rng.nextInt(s.vocab), foil: rng.nextInt(s.vocab) };
    });
    const set = batchPrompts(examples, s.prompts, { withCorrupt: true });
    const rows = rowsPerPass(model, s.promptTokens);
    const times: number[] = [];
    let edges = 0;
    for (let i = 0; i < warmup + repeats; i++) {
      const t0 = performance.now();
      const scores = await scoreEdges(model, set, { method: 'eap', rowsPerPass: rows });
      const ms = performance.now() - t0;
      edges = scores.graph.edgeCount;
      if (!scores.scores.every(Number.isFinite) || scores.scores.every((x) => x === 0)) {
        throw new Error('the EAP scores are all zero or not finite: the backend computed nonsense; see the errors above');
      }
      if (i >= warmup) times.push(ms);
      say(`  EAP ${i < warmup ? 'warm-up' : 'pass'} ${i < warmup ? i + 1 : i - warmup + 1}: ${ms.toFixed(0)} ms`);
    }
    const seconds = median(times) / 1000;
    results.eap = { tokensPerS: (s.prompts * s.promptTokens) / seconds, seconds, edges, rowsPerPass: rows };
  } finally {
    model.dispose();
  }
}

/** (c): circuit-tuning steps, measured by training's circuit-step bench in this process. */
async function circuitStep(results: CheckResults): Promise<void> {
  const s = shape!;
  const m = await measureStep(
    { layers: s.layers, heads: s.heads, d: s.d, vocab: s.vocab, batch: s.batch, seq: s.seq, micro: s.batch, topN: s.topN, prompts: s.prompts, promptTokens: s.promptTokens, steps: repeats },
    'circuit-tuning',
    say,
  );
  results.circuitStep = {
    tokensPerS: (s.batch * s.seq * 1000) / m.ms,
    medianMs: m.ms,
    discoveryMs: m.discoveryMs,
    trainable: m.trainable,
    parameters: m.parameters,
    ...(m.circuitEdges === undefined ? {} : { circuitEdges: m.circuitEdges }),
    ...(m.circuitNodes === undefined ? {} : { circuitNodes: m.circuitNodes }),
  };
}

function table(r: CheckResults): string {
  const s = r.shape;
  const n = (x: number | undefined, digits = 0) => (x === undefined ? '—' : x.toFixed(digits));
  const lines = [
    `${r.backendLine}`,
    `load average ${r.loadAverage.start.map((x) => x.toFixed(2)).join(' ')} at the start, ${r.loadAverage.end?.map((x) => x.toFixed(2)).join(' ') ?? '?'} at the end (${r.host})`,
    ...(r.webgpuDevice === undefined
      ? []
      : [`WebGPU device: bindings ≤ ${(r.webgpuDevice.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB, buffers ≤ ${(r.webgpuDevice.maxBufferSize / 2 ** 20).toFixed(0)} MiB, timestamp-query ${r.webgpuDevice.timestampQuery ? 'yes' : 'no'}`]),
    `shape ${r.shapeName}: ${s.layers} layers, ${s.heads} heads, d ${s.d}, vocab ${s.vocab}; train ${s.batch} × ${s.seq}; EAP ${s.prompts} prompts × ${s.promptTokens} tokens; top-N ${s.topN}`,
    '| measurement | tokens/s | median ms |',
    '|---|---:|---:|',
    `| train step (fwd+bwd+Adam) | ${n(r.train?.tokensPerS, 1)} | ${n(r.train?.medianMs)} |`,
    `| EAP pass | ${n(r.eap?.tokensPerS, 1)} | ${n(r.eap === undefined ? undefined : r.eap.seconds * 1000)} |`,
    `| circuit-tuning step | ${n(r.circuitStep?.tokensPerS, 1)} | ${n(r.circuitStep?.medianMs)} |`,
  ];
  if (r.circuitStep !== undefined) {
    lines.push(`circuit-tuning: discovery ${n(r.circuitStep.discoveryMs)} ms of the step; ${r.circuitStep.circuitEdges ?? '?'} edges, ${r.circuitStep.trainable} of ${r.circuitStep.parameters} parameters trained`);
  }
  if (r.profile !== undefined) {
    lines.push(`profile of one training step: ${n(r.profile.stepMs)} ms wall, kernels ${n(r.profile.kernelMs, 1)} ms (${r.profile.timing})`);
    for (const k of r.profile.kernels.slice(0, 10)) {
      const share = r.profile.kernelMs > 0 ? `${((100 * k.ms) / r.profile.kernelMs).toFixed(1).padStart(5)} %` : '';
      lines.push(`  ${k.name.padEnd(28)} ${k.ms.toFixed(1).padStart(9)} ms ${share}  ${k.calls} calls`);
    }
  }
  for (const e of r.errors) lines.push(`ERROR ${e.what}: ${e.message}`);
  return lines.join('\n');
}

let backendLine = '';
await initBackend({ backend: values.backend as BackendRequest, log: (line) => (backendLine += (backendLine ? '; ' : '') + line) });
const info = backendInfo();
if (info.name !== values.backend && values.backend !== 'auto') {
  // A fallback (e.g. webgpu with no adapter → wasm) would measure the wrong thing: say why and stop.
  throw new Error(`asked for ${values.backend}, got ${info.name}${info.fallbackReason ? `: ${info.fallbackReason}` : ''} (${backendLine})`);
}
say(backendLine);
const results: CheckResults = {
  backend: info.name,
  device: /adapter: (.+?)(?:, fixes:.*)?\)$/.exec(backendLine)?.[1] ?? `${info.threads} thread${info.threads === 1 ? '' : 's'}`,
  backendLine,
  shapeName,
  shape,
  node: process.version,
  host: hostname(),
  date: new Date().toISOString(),
  warmup,
  repeats,
  loadAverage: { start: loadavg() },
  errors: [],
};
// tfjs-backend-webgpu's GPUDevice: its limits say whether GPT-2 small's largest tensor (the 154 MB
// embedding) can be bound at all, and its features whether the profile gets kernel times.
const device = (tf.backend() as unknown as { device?: { limits: Record<string, number>; features: { has(name: string): boolean } } }).device;
if (info.name === 'webgpu' && device !== undefined) {
  results.webgpuDevice = {
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize ?? Number.NaN,
    maxBufferSize: device.limits.maxBufferSize ?? Number.NaN,
    timestampQuery: device.features.has('timestamp-query'),
  };
  say(`WebGPU device: storage buffer bindings up to ${(results.webgpuDevice.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB, buffers up to ${(results.webgpuDevice.maxBufferSize / 2 ** 20).toFixed(0)} MiB, timestamp-query ${results.webgpuDevice.timestampQuery ? 'yes' : 'no'}`);
}
const parts: [string, (r: CheckResults) => Promise<void>][] = [
  ['train', trainAndProfile],
  ['eap', eapPass],
  ['circuit', circuitStep],
];
for (const [what, run] of parts) {
  if (skip.has(what) && (what !== 'train' || skip.has('profile'))) continue;
  say(`${what} …`);
  try {
    await run(results);
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    say(`${what} failed: ${e.stack ?? e.message}`);
    results.errors.push({ what, message: e.message.split('\n')[0] ?? '', ...(e.stack ? { stack: e.stack } : {}) });
  }
}
results.loadAverage.end = loadavg();
console.log(table(results));
if (values.out !== undefined) writeFileSync(values.out, `${JSON.stringify(results, null, 2)}\n`);
await shutdownBackend();
process.exitCode = results.errors.length > 0 ? 1 : 0;
