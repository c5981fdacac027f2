import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CircuitLogTable, PromptsTable } from '@circuit-tuning/contracts';
import { readPrompts } from '@circuit-tuning/discovery';
import { loadModel } from '@circuit-tuning/model';
import { defineStage, writeArrowTable } from '@circuit-tuning/runtime';
import { CircuitTuningConfig } from '../circuit/circuit-config';
import { type CircuitLogEntry, CircuitPlanner, type CircuitSource } from '../circuit/planner';
import { trainAndSave, trainingInputs, trainingOutputs } from './common';

const CIRCUIT_LOG_JSONL = 'circuit-log.jsonl';

/** One definition per circuit source; same config, ports and outputs, so they swap by name. */
function circuitStage(variant: string, source: CircuitSource, description: string, version = 1) {
  return defineStage({
    slot: 'train',
    variant,
    version,
    description,
    config: CircuitTuningConfig,
    inputs: { ...trainingInputs, prompts: { kind: 'arrow', schema: PromptsTable } },
    outputs: { ...trainingOutputs, circuit_log: { kind: 'arrow', schema: CircuitLogTable } },
    async run(ctx) {
      const model = await loadModel(ctx.inputs.model);
      try {
        const prompts = await readPrompts(ctx.inputs.prompts, { split: 'train' });
        // The circuit log is appended as it is recorded, so a resumed run keeps what it had.
        const runDir = join(dirname(ctx.output('train_log')), 'run');
        await mkdir(runDir, { recursive: true });
        const logPath = join(runDir, CIRCUIT_LOG_JSONL);
        const planner = new CircuitPlanner(model, ctx.config, prompts, source, ctx.seed, (entries) => {
          appendFileSync(logPath, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
        });
        const result = await trainAndSave(ctx, model, {
          plan: (batch, step) => planner.plan(batch, step),
          identity: { source, mode: ctx.config.mode, discovery: ctx.config.discovery, topN: ctx.config.topN },
        });
        await writeCircuitLog(logPath, ctx.output('circuit_log'), ctx.producer);
        return result;
      } finally {
        model.dispose();
      }
    },
  });
}

/** Steps replayed after a resume log their circuit again: the last record of a (step, edge) wins. */
async function writeCircuitLog(jsonl: string, out: string, producer: string): Promise<void> {
  const byKey = new Map<string, CircuitLogEntry>();
  if (existsSync(jsonl)) {
    for (const line of readFileSync(jsonl, 'utf8').split('\n')) {
      if (!line) continue;
      const entry = JSON.parse(line) as CircuitLogEntry;
      byKey.set(`${entry.step}\u0000${entry.edge}`, entry);
    }
  }
  const rows = [...byKey.values()].sort((a, b) => a.step - b.step || a.rank - b.rank);
  await writeArrowTable(
    out,
    CircuitLogTable,
    {
      step: Int32Array.from(rows.map((r) => r.step)),
      edge: rows.map((r) => r.edge),
      score: Float32Array.from(rows.map((r) => r.score)),
      rank: Int32Array.from(rows.map((r) => r.rank)),
    },
    { producer },
  );
}

// Versions: the loss became the runtime's crossEntropyRows (circuit-tuning, fixed-circuit 2;
// random-circuit 3, whose version 2 kept all N drawn edges where version 1 pruned them away).
export const circuitTuningStage = circuitStage(
  'circuit-tuning',
  'discover',
  'Circuit-tuning: every k steps find the top-N circuit on the task prompts and update only its exact parameter slices.',
  2,
);
export const randomCircuitStage = circuitStage('random-circuit', 'random', 'Baseline: update the slices of a random circuit of the same size each step.', 3);
export const fixedCircuitStage = circuitStage('fixed-circuit', 'fixed', 'Baseline: find the circuit once before training and update only it.', 2);
