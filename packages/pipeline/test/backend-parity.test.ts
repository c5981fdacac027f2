/**
 * The backend-parameterised suite (issue 18; docs/runtime.md §7): what the project computes on one
 * backend it computes on every other, to float tolerance. As tfjs runs core's tests on every
 * backend, this runs the project's own computations on each backend of BACKENDS and compares
 * them with the reference backend (native, or cpu where the addon is not built):
 *
 * - the model: logits and every parameter's gradient of GPT-2 and Llama-family models (grouped
 *   kv heads, rope_scaling llama3, gated MLP, RMSNorm; q/k/v biases) and of the embedded model;
 * - a pipeline with every computation a run makes: pre-training from scratch (Adam), EAP with its
 *   faithfulness curve (the edge-masked forward), EAP-IG with mean ablation, redundancy curves,
 *   full fine-tuning with SGD and the de-biasing objective, LoRA, circuit-tuning (gradient masks on
 *   MLP heads, rediscovered every 2 steps), edge-ablated circuit-tuning, circuit-LoRA, and the
 *   evaluation of each; every Arrow table compared cell by cell.
 *
 * webgpu runs wherever Dawn finds an adapter: a GPU, or in CI Mesa's software renderer
 * (CT_WEBGPU_ALLOW_SOFTWARE=1 is set here; .ci/run installs Mesa's EGL and GLES). Where it cannot
 * start the webgpu cases are skipped with the reason, unless CT_REQUIRE_WEBGPU=1 (CI), which makes
 * that a failure.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gpt2Config, llamaConfig, loadModel, type ModelConfig, TransformerModel } from '@circuit-tuning/model';
import { type BackendName, initBackend, readArrowTableAny, readManifest, shutdownBackend, tf } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry, loadPipeline, runPipeline } from '../src/index';
import { VOLATILE_COLUMNS } from '../src/verify';

process.env.CT_WEBGPU_ALLOW_SOFTWARE ??= '1';
const REQUIRE_WEBGPU = process.env.CT_REQUIRE_WEBGPU === '1';
const BACKENDS = ['wasm', 'webgpu'] as const satisfies readonly BackendName[];
const quiet = () => {};

let dir: string;
/** Why a backend could not start here, by name (decided before the tests are collected). */
const unavailable = new Map<BackendName, string>();
const reference: BackendName = await initBackend({ backend: 'native', threads: 1, log: quiet }).then(
  () => 'native' as const,
  () => 'cpu' as const,
);
for (const backend of BACKENDS) {
  try {
    await initBackend({ backend, threads: 1, log: quiet });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (backend === 'webgpu' && REQUIRE_WEBGPU) throw new Error(`CT_REQUIRE_WEBGPU=1, but webgpu cannot start: ${reason}`);
    unavailable.set(backend, reason);
    console.warn(`backend parity: ${backend} skipped (${reason})`);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-backend-parity-'));
});

afterAll(async () => {
  await shutdownBackend();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `compute` on a backend; every tensor it returns is read back and disposed. */
async function on<T extends Record<string, Float32Array | number[]>>(backend: BackendName, compute: () => Promise<T>): Promise<T> {
  const info = await initBackend({ backend, threads: 1, log: quiet });
  expect(info.name).toBe(backend);
  return compute();
}

/** The largest |a − b| relative to the larger of 1 and the largest |a|. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(b.length).toBe(a.length);
  let scale = 1;
  let worst = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]!));
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= worst)) worst = d; // NaN counts as the worst
  }
  return worst / scale;
}

const MODELS: [string, ModelConfig][] = [
  ['GPT-2', gpt2Config({ nLayers: 2, nHeads: 2, dModel: 16, vocabSize: 29, maxPositions: 12 })],
  [
    'Llama-3 (grouped kv, rope_scaling llama3)',
    llamaConfig({
      nLayers: 2,
      nHeads: 4,
      nKvHeads: 2,
      dModel: 16,
      dMlp: 24,
      vocabSize: 29,
      maxPositions: 12,
      ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 4 },
    }),
  ],
  ['Qwen2 (q/k/v biases)', llamaConfig({ nLayers: 1, nHeads: 2, nKvHeads: 1, dModel: 16, dMlp: 24, vocabSize: 29, maxPositions: 12, attentionBias: true, attentionOutputBias: false })],
];

/**
 * A random model of `config`, its weights spread wider than GPT-2's 0.02 init so that no gradient
 * is negligible, or exactly `weights` (read from the reference backend's model).
 */
async function randomModel(config: ModelConfig, weights: Map<string, Float32Array> | undefined): Promise<TransformerModel> {
  const model = await TransformerModel.random(config, 3);
  if (weights !== undefined) model.params.assign(new Map([...weights].map(([name, data]) => [name, tf.tensor(data, model.params.get(name).shape)])));
  else model.params.assign(new Map(model.params.entries().map(([name, v]) => [name, tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', 5)))])));
  return model;
}

/**
 * Logits and every parameter's gradient of a fixed projection of them on the current backend
 * (with `withWeights`, the weights too); the model is disposed.
 */
async function logitsAndGradients(model: TransformerModel, withWeights = false): Promise<Record<string, Float32Array>> {
  try {
    const { vocabSize } = model.config;
    const ids = tf.tensor2d(Array.from({ length: 16 }, (_, i) => (i * 7 + 3) % Math.min(vocabSize, 29)), [2, 8], 'int32');
    const projection = tf.tensor3d(Float32Array.from({ length: 2 * 8 * vocabSize }, (_, i) => Math.sin(i * 0.37)), [2, 8, vocabSize]);
    const out: Record<string, Float32Array> = {};
    const logits = model.logits(ids);
    out.logits = (await logits.data()) as Float32Array;
    logits.dispose();
    const variables = model.params.entries().map(([, v]) => v);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.logits(ids), projection)) as tf.Scalar, variables);
    for (const [name, v] of model.params.entries()) {
      out[`grad ${name}`] = (await grads[v.name]!.data()) as Float32Array;
      if (withWeights) out[`weight ${name}`] = (await v.data()) as Float32Array;
    }
    tf.dispose([ids, projection, value, ...Object.values(grads)]);
    return out;
  } finally {
    model.dispose();
  }
}

function expectClose(expected: Record<string, Float32Array>, got: Record<string, Float32Array>, backend: BackendName): void {
  for (const [key, data] of Object.entries(got)) {
    expect(relativeError(expected[key]!, data), `${key} on ${backend} vs ${reference}`).toBeLessThan(1e-4);
  }
}

const EMBEDDED_MODEL = fileURLToPath(new URL('../../../fixtures/models/default', import.meta.url));

describe.each(BACKENDS)('the model on %s against the reference backend', (backend) => {
  it.skipIf(unavailable.has(backend)).each(MODELS)('%s: logits and every parameter gradient agree', async (_, config) => {
    const expected = await on(reference, async () => logitsAndGradients(await randomModel(config, undefined), true));
    const weights = new Map(Object.entries(expected).flatMap(([key, data]) => (key.startsWith('weight ') ? [[key.slice('weight '.length), data] as const] : [])));
    expectClose(expected, await on(backend, async () => logitsAndGradients(await randomModel(config, weights))), backend);
  }, 60_000);

  it.skipIf(unavailable.has(backend))('the embedded model: logits and every parameter gradient agree', async () => {
    const expected = await on(reference, async () => logitsAndGradients(await loadModel(EMBEDDED_MODEL)));
    expectClose(expected, await on(backend, async () => logitsAndGradients(await loadModel(EMBEDDED_MODEL))), backend);
  }, 60_000);
});

/** Every computation a run makes, at toy sizes (see the header). */
const PIPELINE = `name: backend-parity
seed: 5
steps:
  tasks:
    stage: tasks:generate
    config:
      tasks: [sv-disagreement, ioi, gender-bias, general-text]
      corpus: { tokens: 6000, devDocuments: 10 }
      sizes:
        svDisagreementTrain: { train: 64, dev: 8, test: 16 }
        ioi: { train: 8, dev: 0, test: 8 }
        genderBiasEval: { train: 8, dev: 4, test: 8 }
        genderBiasTrain: { train: 32, dev: 4, test: 4 }
        generalText: { train: 0, dev: 0, test: 4 }
  pretrain:
    stage: train:full
    inputs: { tokenizer: tasks.tokenizer, train: tasks.corpus_train }
    config: { init: { kind: scratch, nLayers: 2, nHeads: 2, dModel: 16, maxPositions: 32 }, steps: 4, batchSize: 8, seqLen: 32, packing: packed }
  discover:
    stage: discover:eap
    inputs: { model: pretrain.model, prompts: tasks.sv_disagreement }
    config: { split: train, maxExamples: 8, selection: { n: 20 }, curve: { fractions: [0.2, 1] }, draw: { png: false } }
  discover-ig:
    stage: discover:eap-ig
    inputs: { model: pretrain.model, prompts: tasks.ioi }
    config: { steps: 3, ablation: mean, split: train, maxExamples: 8, selection: { n: 20 }, curve: { fractions: [0.5, 1] }, draw: { png: false } }
  redundancy:
    stage: redundancy:curves
    inputs: { model: pretrain.model, prompts: tasks.sv_disagreement }
    config: { method: eap, split: train, maxExamples: 8, grid: { points: 3 }, randomSeeds: [1], refine: { rounds: 0 }, draw: { png: false } }
  full-sgd:
    stage: train:full
    inputs: { model: pretrain.model, train: tasks.gender_bias_train }
    config: { steps: 3, batchSize: 4, seqLen: 32, learningRate: 0.01, optimizer: { kind: sgd }, debias: { beta: 1 }, checkpointEvery: 3 }
  lora:
    stage: train:lora
    inputs: { model: pretrain.model, train: tasks.sv_disagreement_train }
    config: { steps: 3, batchSize: 4, seqLen: 32, learningRate: 0.01, checkpointEvery: 3 }
  circuit-tuning:
    stage: train:circuit-tuning
    inputs: &circuit-inputs { model: pretrain.model, train: tasks.sv_disagreement_train, prompts: tasks.sv_disagreement }
    config: &circuit-config
      steps: 4
      batchSize: 4
      seqLen: 32
      learningRate: 0.01
      checkpointEvery: 4
      every: 2
      topN: { start: 20 }
      discovery: { prompts: 4 }
      parameterMapping: { mlp: heads, mlpHeadWidth: 16 }
      circuitLogEvery: 1
      emptyCircuit: skip-step
  edge-ablated:
    stage: train:circuit-tuning
    inputs: *circuit-inputs
    config: { <<: *circuit-config, mode: edge-ablated, parameterMapping: { mlp: reader-writer } }
  circuit-lora:
    stage: train:circuit-lora
    inputs: *circuit-inputs
    config: { <<: *circuit-config, lora: { rank: 2, alpha: 4 } }
  evaluate:
    stage: evaluate:tasks
    foreach: [full-sgd, lora, circuit-tuning, edge-ablated, circuit-lora]
    inputs: { model: '{item}.model', target: tasks.sv_disagreement, ioi: tasks.ioi, general_text: tasks.general_text }
    config: { split: test }
`;

const json = (value: unknown) => JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v));

/** Numeric cells within tolerance, every other cell equal; timing columns are not compared. */
async function compareRunTables(expectedDir: string, gotDir: string, steps: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  let tables = 0;
  for (const step of steps) {
    const a = await readManifest(join(expectedDir, step));
    const b = await readManifest(join(gotDir, step));
    if (a === undefined || b === undefined) {
      problems.push(`${step}: no manifest`);
      continue;
    }
    for (const output of a.outputs.filter((o) => o.kind === 'arrow')) {
      const other = b.outputs.find((o) => o.port === output.port);
      if (other === undefined) {
        problems.push(`${step}.${output.port}: missing`);
        continue;
      }
      const ta = await readArrowTableAny(join(expectedDir, output.path));
      const tb = await readArrowTableAny(join(gotDir, other.path));
      tables++;
      if (ta.numRows !== tb.numRows) problems.push(`${step}.${output.port}: ${ta.numRows} vs ${tb.numRows} rows`);
      const volatile = VOLATILE_COLUMNS[output.schema ?? ''] ?? [];
      for (const field of ta.fields) {
        if (volatile.includes(field.name)) continue;
        const ca = ta.columns[field.name] as ArrayLike<unknown>;
        const cb = tb.columns[field.name] as ArrayLike<unknown> | undefined;
        if (cb === undefined) {
          problems.push(`${step}.${output.port}.${field.name}: missing`);
          continue;
        }
        const numbers = Array.from(ca).every((x) => typeof x === 'number' || x === null) && Array.from(cb).every((x) => typeof x === 'number' || x === null);
        if (numbers && !Array.from(ca).every(Number.isInteger)) {
          const error = relativeError(Array.from(ca, Number), Array.from(cb, Number));
          if (!(error < 1e-3)) problems.push(`${step}.${output.port}.${field.name}: relative error ${error}`);
        } else if (!Array.from(ca).every((x, i) => x === cb[i] || json(x) === json(cb[i]))) {
          problems.push(`${step}.${output.port}.${field.name}: values differ`);
        }
      }
    }
  }
  expect(tables).toBeGreaterThan(20);
  return problems;
}

describe.each(BACKENDS)('a pipeline of every stage on %s against the reference backend', (backend) => {
  it.skipIf(unavailable.has(backend))('writes the same tables, to float tolerance', async () => {
    const path = join(dir, `pipeline-${backend}.yaml`);
    await writeFile(path, PIPELINE);
    const plan = await loadPipeline(path, { registry: builtinRegistry() });
    const runs: string[] = [];
    for (const name of [reference, backend]) {
      expect((await initBackend({ backend: name, threads: 1, log: quiet })).name).toBe(name);
      const runDir = join(dir, `${backend}-run-on-${name}`);
      const result = await runPipeline(plan, { runDir });
      expect(result.status, `${name}: ${JSON.stringify(result.steps.filter((s) => s.error).map((s) => `${s.id}: ${json(s.error)}`))}`).toBe('succeeded');
      runs.push(runDir);
    }
    const problems = await compareRunTables(runs[0]!, runs[1]!, plan.pipeline.steps.map((s) => s.id));
    expect(problems, `${backend} vs ${reference}`).toEqual([]);
  }, 300_000);
});
