/**
 * Training throughput of small GPT-2 shapes on the active backend (the sizes the embedded model
 * is chosen from). Usage: tsx bench/train-step.bench.ts [--steps N] [--backend NAME]
 *
 * With --compare: one circuit-tuning step against one full fine-tuning step on a GPT-2-small
 * shape (issue #5; see circuit-step.ts):
 *   tsx bench/train-step.bench.ts --compare [--batch 16] [--seq 64] [--micro 4] [--top-n 1000] [--layers 12] [--steps N]
 * GPT-2 small's full fine-tuning with Adam fills the 4 GB wasm heap: `pnpm bench` runs
 * `--micro 2 --steps 1` (one timed step after a warm-up), which fits.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gpt2Config, TransformerModel } from '@circuit-tuning/model';
import { createRng, initBackend, shutdownBackend, tf } from '@circuit-tuning/runtime';
import { createOptimizer, nextTokenLoss } from '../src/index';
import { type CompareOptions, compareTable, measureStep, type StepMeasurement, type StepVariant } from './circuit-step';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '6' },
    backend: { type: 'string' },
    compare: { type: 'boolean', default: false },
    batch: { type: 'string', default: '16' },
    seq: { type: 'string', default: '64' },
    micro: { type: 'string', default: '4' },
    'top-n': { type: 'string', default: '1000' },
    layers: { type: 'string', default: '12' },
    prompts: { type: 'string', default: '16' },
    'prompt-tokens': { type: 'string', default: '16' },
    only: { type: 'string' },
  },
});
const STEP_PREFIX = '@ct-step ';
if (values.compare && values.only === undefined) {
  // Each variant in a fresh process (and a fresh wasm heap); this process only prints the table.
  const run = (variant: StepVariant): StepMeasurement => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2), '--only', variant], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = child.stdout.split('\n').find((l) => l.startsWith(STEP_PREFIX));
    if (child.status !== 0 || line === undefined) throw new Error(`the ${variant} step failed (exit ${child.status}): ${child.stdout.slice(-500)}`);
    return JSON.parse(line.slice(STEP_PREFIX.length)) as StepMeasurement;
  };
  const full = run('full');
  const circuit = run('circuit-tuning');
  compareTable(compareOptions(), full, circuit, (line) => console.log(line));
  process.exit(0);
}
const info = await initBackend(values.backend ? { backend: values.backend as 'wasm' } : {});
if (values.compare) {
  const variant = values.only as StepVariant;
  if (variant !== 'full' && variant !== 'circuit-tuning') throw new Error(`--only must be full or circuit-tuning, got '${variant}'`);
  const measurement = await measureStep(compareOptions(), variant, (line) => console.log(line));
  console.log(`${STEP_PREFIX}${JSON.stringify(measurement)}`);
  // No shutdownBackend(): near the 4 GB heap, tfjs-backend-wasm's dispose can abort.
  process.exit(0);
}

function compareOptions(): CompareOptions {
  return {
    layers: Number(values.layers),
    batch: Number(values.batch),
    seq: Number(values.seq),
    micro: Number(values.micro),
    topN: Number(values['top-n']),
    prompts: Number(values.prompts),
    promptTokens: Number(values['prompt-tokens']),
    steps: Math.min(Number(values.steps), 3),
  };
}
const steps = Number(values.steps);
const shapes = [
  { nLayers: 4, nHeads: 4, dModel: 128, vocabSize: 600, batch: 32, seq: 64 },
  { nLayers: 4, nHeads: 4, dModel: 192, vocabSize: 600, batch: 32, seq: 64 },
  { nLayers: 4, nHeads: 4, dModel: 256, vocabSize: 2000, batch: 16, seq: 64 },
];
console.log(`backend ${info.name}, ${info.threads} thread(s)`);
console.log('layers  d_model  vocab  batch×seq  ms/step  tokens/s');
for (const s of shapes) {
  const model = await TransformerModel.random(gpt2Config({ ...s, maxPositions: s.seq }), 1);
  const optimizer = createOptimizer({ kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
  const rng = createRng(1);
  const ids = tf.tensor2d(Int32Array.from({ length: s.batch * s.seq }, () => rng.nextInt(s.vocabSize)), [s.batch, s.seq], 'int32');
  const weights = tf.onesLike(ids).toFloat() as tf.Tensor2D;
  const vars = model.params.entries();
  const step = async () => {
    const { value, grads } = tf.variableGrads(() => nextTokenLoss(model.logits(ids), ids, weights), vars.map(([, v]) => v));
    await value.data();
    optimizer.apply(vars.map(([name, variable]) => ({ name, variable, grad: grads[variable.name]! })), 1e-3);
    tf.dispose([value, ...Object.values(grads)]);
  };
  await step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const ms = (performance.now() - t0) / steps;
  console.log(`${String(s.nLayers).padStart(6)}  ${String(s.dModel).padStart(7)}  ${String(s.vocabSize).padStart(5)}  ${`${s.batch}×${s.seq}`.padStart(9)}  ${ms.toFixed(0).padStart(7)}  ${((s.batch * s.seq) / (ms / 1000)).toFixed(0).padStart(8)}`);
  tf.dispose([ids, weights]);
  optimizer.dispose();
  model.dispose();
}
await shutdownBackend();
