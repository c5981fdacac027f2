import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CircuitLogTable, PromptsTable } from '@circuit-tuning/contracts';
import { readPromptSet } from '@circuit-tuning/discovery';
import { loadModel, type TransformerModel } from '@circuit-tuning/model';
import { defineStage, type StageLogger, writeArrowTable, writeFileAtomic } from '@circuit-tuning/runtime';
import { CircuitTuningConfig } from '../circuit/circuit-config';
import { type CircuitLogEntry, CircuitPlanner, type CircuitSource } from '../circuit/planner';
import type { LogRow } from '../loop/train-loop';
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
        const { planner, circuitLog } = await startCircuitPlanner(ctx, model, ctx.config, source);
        const { summary, log } = await trainAndSave(ctx, model, {
          plan: async (batch, step) => {
            await circuitLog.startAt(step);
            return planner.plan(batch, step);
          },
          planState: planner,
          identity: { source, mode: ctx.config.mode, discovery: ctx.config.discovery, topN: ctx.config.topN },
        });
        return { summary: { ...summary, ...(await circuitLog.finish(ctx, log, ctx.config.emptyCircuit)) } };
      } finally {
        model.dispose();
      }
    },
  });
}

/** What starting a circuit planner needs of a stage's context. */
interface CircuitStageContext {
  inputs: { prompts: string };
  seed: number;
  logger: StageLogger;
  output(port: 'train_log'): string;
}

/**
 * The circuit planner of a circuit-tuning stage (and of train:circuit-lora): the task prompts read
 * and checked, the circuit log file beside the outputs, the empty-circuit warnings, and a warning
 * when top-N exceeds the graph.
 */
export async function startCircuitPlanner(
  ctx: CircuitStageContext,
  model: TransformerModel,
  config: CircuitTuningConfig,
  source: CircuitSource,
): Promise<{ planner: CircuitPlanner; circuitLog: CircuitLogFile }> {
  // The same reading and checks as discovery's stages: a bad row fails here, naming the file and the row.
  const { rows: prompts } = await readPromptSet(ctx.inputs.prompts, model, {
    split: 'train',
    ablation: source === 'random' ? 'none' : config.discovery.ablation,
    checkTokenizer: true,
  });
  const runDir = join(dirname(ctx.output('train_log')), 'run');
  await mkdir(runDir, { recursive: true });
  const circuitLog = new CircuitLogFile(join(runDir, CIRCUIT_LOG_JSONL));
  const planner = new CircuitPlanner(model, config, prompts, source, ctx.seed, {
    onRecord: (entries) => circuitLog.append(entries),
    onEmpty: (step, action, found) =>
      ctx.logger.warn(`step ${step}: the circuit found at step ${found.step} owns no parameters (${found.edges} edges); emptyCircuit '${config.emptyCircuit}': ${action}`, {
        step,
        emptyCircuit: action,
        foundAt: found.step,
      }),
    onRandomExtraShort: (step, wanted, got) =>
      ctx.logger.warn(
        `step ${step}: randomExtra.ratio ${config.randomExtra?.ratio} asks for ${wanted.toLocaleString('en-US')} parameters outside the circuit, but only ${got.toLocaleString('en-US')} are (every node outside it trains); said once per run`,
        { step, wanted, got },
      ),
  });
  // A top-N above the graph keeps every edge at those steps: legitimate in a sweep (the tuning
  // curve's grid), a mistake otherwise; either way the log says so instead of clamping quietly.
  const largestTopN = Math.max(config.topN.start, config.topN.end ?? 0);
  if (largestTopN > planner.edgeCount) {
    ctx.logger.warn(`topN ${largestTopN.toLocaleString('en-US')} is above the ${planner.edgeCount.toLocaleString('en-US')} edges of the graph: such steps keep every edge`, {
      topN: largestTopN,
      edges: planner.edgeCount,
    });
  }
  return { planner, circuitLog };
}

/**
 * The circuit log, appended as it is recorded (one JSON line per kept edge), so a resumed run
 * keeps what it had. A resume first drops the lines of the steps it is about to replay (and a line
 * torn by the kill), so the table holds exactly what an uninterrupted run records.
 */
export class CircuitLogFile {
  private started = false;

  constructor(private readonly path: string) {}

  /**
   * Called before every planned step: the first call drops what a killed run logged for this
   * step and later ones (they are planned again); later calls do nothing.
   */
  async startAt(step: number): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.keepBefore(step);
  }

  /** Writes the circuit_log output; returns the summary's empty-circuit fields (policy, and steps it acted on). */
  async finish(
    ctx: { output(port: 'circuit_log'): string; producer: string },
    log: readonly LogRow[],
    emptyCircuit: CircuitTuningConfig['emptyCircuit'],
  ): Promise<{ emptyCircuit: CircuitTuningConfig['emptyCircuit']; emptyCircuitSteps: number }> {
    await this.writeTable(ctx.output('circuit_log'), ctx.producer);
    return { emptyCircuit, emptyCircuitSteps: log.filter((r) => r.empty_circuit !== null && r.empty_circuit !== undefined).length };
  }

  append(entries: readonly CircuitLogEntry[]): void {
    appendFileSync(this.path, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
  }

  private async keepBefore(step: number): Promise<void> {
    const kept = this.entries().filter((e) => e.step < step);
    await writeFileAtomic(this.path, kept.map((e) => `${JSON.stringify(e)}\n`).join(''));
  }

  private async writeTable(out: string, producer: string): Promise<void> {
    const rows = this.entries().sort((a, b) => a.step - b.step || a.rank - b.rank);
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

  /** Complete lines only: a kill mid-append leaves a last line without its newline. */
  private entries(): CircuitLogEntry[] {
    if (!existsSync(this.path)) return [];
    const lines = readFileSync(this.path, 'utf8').split('\n');
    lines.pop();
    return lines.filter((line) => line !== '').map((line) => JSON.parse(line) as CircuitLogEntry);
  }
}

// Versions: the loss became the runtime's crossEntropyRows (circuit-tuning, fixed-circuit 2;
// random-circuit 3, whose version 2 kept all N drawn edges where version 1 pruned them away);
// then ct.train.log version 2 (empty_circuit), the emptyCircuit policy, the divergence guard and
// exact resume (circuit-tuning, fixed-circuit 3; random-circuit 4); then parameterMapping, whose
// defaults train an MLP by role (writer W_out/b_out, reader W_in/b_in) and b_O with its layer's
// heads (circuit-tuning, fixed-circuit 4; random-circuit 5); then a step's prompts scored in one
// padded batch whatever their lengths, same scores to float rounding (circuit-tuning, fixed-circuit
// 5; random-circuit 6); then the gradient norm (clipping, the divergence guard, the log) over the
// entries a step updates only, and edge-ablated means over real tokens only (circuit-tuning,
// fixed-circuit 6; random-circuit 7).
export const circuitTuningStage = circuitStage(
  'circuit-tuning',
  'discover',
  'Circuit-tuning: every k steps find the top-N circuit on the task prompts and update only its exact parameter slices.',
  6,
);
export const randomCircuitStage = circuitStage('random-circuit', 'random', 'Baseline: update the slices of a random circuit of the same size each step.', 7);
export const fixedCircuitStage = circuitStage('fixed-circuit', 'fixed', 'Baseline: find the circuit once before training and update only it.', 6);
