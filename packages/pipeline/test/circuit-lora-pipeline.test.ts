/**
 * train:circuit-lora in a pipeline (issue 15): the embedded world at toy sizes, a 2-layer model
 * pre-trained for a few steps, circuit-LoRA on MLP-head circuits, its model evaluated with its
 * training log (the trainable share) and its circuit log drawn by evaluate:circuits.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CircuitLogTable, TrainLogTable } from '@circuit-tuning/contracts';
import { EvaluationMetricsTable } from '@circuit-tuning/evaluation';
import { readArrowTable } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toyWorldPipeline } from './toy-world';
import { builtinRegistry, loadPipeline, runPipeline } from '../src/index';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-circuit-lora-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pipeline = toyWorldPipeline('circuit-lora-test', `  circuit-lora:
    stage: train:circuit-lora
    inputs: { model: pretrain.model, train: tasks.sv_disagreement_train, dev: tasks.sv_disagreement_train, prompts: tasks.sv_disagreement }
    config:
      steps: 6
      batchSize: 4
      seqLen: 32
      learningRate: 0.01
      checkpointEvery: 3
      evalEvery: 3
      every: 2
      topN: { start: 20 }
      discovery: { prompts: 4, positions: all }
      parameterMapping: { mlp: heads, mlpHeadWidth: 16 }
      circuitLogEvery: 1
      emptyCircuit: skip-step
      lora: { rank: 4, alpha: 8 }
  evaluate:
    stage: evaluate:tasks
    inputs: { model: circuit-lora.model, train_log: circuit-lora.train_log, target: tasks.sv_disagreement, general_text: tasks.general_text }
    config: { label: circuit-lora, split: test }
  circuits:
    stage: evaluate:circuits
    inputs: { circuit_log: circuit-lora.circuit_log, model: pretrain.model }
    config: { mlpHeadWidth: 16, draw: { png: false } }
`);

describe('train:circuit-lora in a pipeline', () => {
  it('trains, is evaluated with its trainable share, and its circuit log is drawn', async () => {
    const path = join(dir, 'circuit-lora.yaml');
    await writeFile(path, pipeline);
    const result = await runPipeline(await loadPipeline(path, { registry: builtinRegistry() }), { runDir: join(dir, 'run') });
    expect(result.status, JSON.stringify(result.steps.map((s) => s.error))).toBe('succeeded');
    const step = (id: string) => result.steps.find((s) => s.id === id)!;
    const trainLog = (await readArrowTable(step('circuit-lora').outputs.train_log!, TrainLogTable)).columns;
    expect(trainLog.step).toHaveLength(6);
    // Adapters of the circuit's nodes only: a small share of the model, never zero on a step that trained.
    const counts = Array.from(trainLog.trainable_parameters, Number);
    const trained = counts.filter((_, i) => trainLog.empty_circuit[i] === null);
    expect(trained.length).toBeGreaterThan(0);
    for (const count of trained) expect(count).toBeGreaterThan(0);
    const circuitLog = (await readArrowTable(step('circuit-lora').outputs.circuit_log!, CircuitLogTable)).columns;
    // MLP-head nodes (m<layer>.n<head>) appear in the logged circuits.
    expect(circuitLog.edge.some((edge) => /m\d+\.n\d+/.test(edge))).toBe(true);
    const metrics = (await readArrowTable(step('evaluate').outputs.metrics!, EvaluationMetricsTable)).columns;
    const share = metrics.value[metrics.metric.indexOf('trainable_fraction')]!;
    expect(share).toBeGreaterThan(0);
    expect(share).toBeLessThan(1);
    expect(step('circuits').status).toBe('succeeded');
  }, 120_000);
});
