/**
 * Memory over a long circuit-tuning run of the embedded model (issue #5): live tf tensors and the
 * process's resident set size at the start and every `--every` steps, through the real training
 * loop and circuit planner. Flat means no growth in tensor count and no steady growth in RSS.
 *
 * Usage (from packages/training):
 *   tsx bench/memory.bench.ts [--steps 1000] [--every 100] [--top-n 40] [--mode gradient-mask]
 *     [--model ../../fixtures/models/default] [--data TASKS_STAGE_DIR] [--json OUT]
 * Without --data, the embedded world's disagreement data is generated first (tasks:generate,
 * seed 20261125, the world the embedded model was trained on) into a temporary directory.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readPrompts } from '@circuit-tuning/discovery';
import { loadModel } from '@circuit-tuning/model';
import { initBackend, runStage, shutdownBackend, tf } from '@circuit-tuning/runtime';
import { generateTasksStage } from '@circuit-tuning/tasks/stages';
import { CircuitPlanner, CircuitTuningConfig, createOptimizer, DEFAULT_SEQ_LEN, readTexts, textDataset, trainLoop } from '../src/index';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '1000' },
    every: { type: 'string', default: '100' },
    'top-n': { type: 'string', default: '40' },
    mode: { type: 'string', default: 'gradient-mask' },
    model: { type: 'string', default: '../../fixtures/models/default' },
    data: { type: 'string' },
    json: { type: 'string' },
  },
});
const info = await initBackend();
const steps = Number(values.steps);
const every = Number(values.every);
const config = CircuitTuningConfig.parse({
  steps,
  batchSize: 16,
  seqLen: 32,
  learningRate: 1e-3,
  optimizer: { kind: 'adamw', weightDecay: 0.01 },
  schedule: { warmupSteps: 10, decay: 'cosine', minFactor: 0.1 },
  checkpointEvery: steps,
  mode: values.mode,
  topN: { start: Number(values['top-n']) },
  every: 5,
  discovery: { method: 'eap', prompts: 16 },
});
const model = await loadModel(resolve(values.model));
const runDir = await mkdtemp(join(tmpdir(), 'ct-memory-'));
const dataDir = values.data === undefined ? await generateData(join(runDir, 'tasks')) : resolve(values.data);
const prompts = await readPrompts(join(dataDir, 'sv_disagreement.arrow'), { split: 'train' });
const texts = await readTexts(join(dataDir, 'sv_disagreement_train.arrow'), 'train');
const separatorId = model.tokenizer?.eosTokenId ?? 0;
const dataset = textDataset(texts, { packing: 'padded', seqLen: config.seqLen ?? Math.min(DEFAULT_SEQ_LEN, model.config.maxPositions), separatorId, padId: model.tokenizer?.padTokenId ?? separatorId });
const planner = new CircuitPlanner(model, config, prompts, 'discover', 1);
const optimizer = createOptimizer(config.optimizer);

const samples: { step: number; tensors: number; bytes: number; rssMB: number; heapMB: number }[] = [];
const sample = (step: number) => {
  const memory = tf.memory();
  const usage = process.memoryUsage();
  samples.push({ step, tensors: memory.numTensors, bytes: memory.numBytes, rssMB: usage.rss / 2 ** 20, heapMB: usage.heapUsed / 2 ** 20 });
  const s = samples.at(-1)!;
  console.log(`step ${String(step).padStart(5)}  tensors ${String(s.tensors).padStart(6)}  tensor MB ${(s.bytes / 2 ** 20).toFixed(1).padStart(7)}  RSS MB ${s.rssMB.toFixed(1).padStart(7)}  heap MB ${s.heapMB.toFixed(1).padStart(6)}`);
};

console.log(`backend ${info.name}, ${info.threads} thread(s); ${steps} circuit-tuning steps (${config.mode}, top-${config.topN.start}, rediscovery every ${config.every})`);
const started = performance.now();
// Sampled before each step's plan: the previous step has disposed everything it made.
await trainLoop({
  model,
  optimizer,
  dataset,
  settings: { ...config, steps },
  seed: 1,
  runDir,
  configHash: 'memory-bench',
  plan: (batch, step) => {
    if (step % every === 0) sample(step);
    return planner.plan(batch, step);
  },
});
sample(steps);
const seconds = (performance.now() - started) / 1000;
const [first, last] = [samples[0]!, samples.at(-1)!];
const summary = {
  backend: info.name,
  threads: info.threads,
  steps,
  seconds,
  start: first,
  end: last,
  tensorGrowth: last.tensors - first.tensors,
  rssGrowthMB: last.rssMB - first.rssMB,
  // RSS after the first sample taken past warm-up, to tell a one-time rise from steady growth.
  rssAfterWarmupMB: samples[Math.min(2, samples.length - 1)]!.rssMB,
  samples,
};
console.log(`${seconds.toFixed(0)} s; tensors ${first.tensors} → ${last.tensors}; RSS ${first.rssMB.toFixed(0)} → ${last.rssMB.toFixed(0)} MB`);
if (values.json) await writeFile(values.json, `${JSON.stringify(summary, null, 2)}\n`);
optimizer.dispose();
model.dispose();
await rm(runDir, { recursive: true, force: true });
await shutdownBackend();

/** The disagreement prompts and training sentences of the embedded world, as tasks:generate writes them. */
async function generateData(stageDir: string): Promise<string> {
  await runStage(generateTasksStage, {
    stageDir,
    seed: 20261125,
    config: { tasks: ['sv-disagreement'], corpus: { tokens: 0, devDocuments: 0 } },
    reporter: () => {},
  });
  return stageDir;
}
