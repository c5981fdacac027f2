import { CircuitLogTable, PromptsTable } from '@circuit-tuning/contracts';
import { loadModel } from '@circuit-tuning/model';
import { defineStage } from '@circuit-tuning/runtime';
import type { z } from 'zod';
import { CircuitTuningConfig } from '../circuit/circuit-config';
import type { PlanState, StepPlan } from '../loop/train-loop';
import { LoraConfig } from '../lora/adapters';
import { CircuitLoraAdapters } from '../lora/circuit-adapters';
import { startCircuitPlanner } from './circuit-stages';
import { trainAndSave, trainingInputs, trainingOutputs } from './common';

/**
 * train:circuit-lora's settings: circuit-tuning's (discovery, topN, every, parameterMapping,
 * emptyCircuit, circuitLogEvery mean what they mean there) and LoRA's rank and α. Left out: `mode`
 * (the adapters are read by the plain forward pass, gradient-mask's; edge-ablated training's mean
 * ablation reads the base weights, not the adapters) and trainEmbeddings/trainNorms (LoRA adapts
 * matrices only; embeddings and norms stay frozen, as under train:lora) and randomExtra (the
 * random-activation control is circuit-tuning's; here it would be an unknown key, not ignored).
 */
export const CircuitLoraConfig = CircuitTuningConfig.omit({ mode: true, trainEmbeddings: true, trainNorms: true, randomExtra: true }).extend({
  lora: LoraConfig.pick({ rank: true, alpha: true })
    .prefault({})
    .describe("each node slice's adapter: rank r (capped at the slice's smaller side) and α (the update is (α / r) · A·B)"),
});
export type CircuitLoraConfig = z.output<typeof CircuitLoraConfig>;

/**
 * `train:circuit-lora` (docs/method.md §4.8): circuit-tuning's circuit, rediscovered every k steps
 * on the task prompts, but what trains is a low-rank adapter on each matrix slice of the circuit's
 * nodes instead of the slice itself. Output: the merged plain checkpoint, as train:lora's.
 */
export const circuitLoraStage = defineStage({
  slot: 'train',
  variant: 'circuit-lora',
  version: 1,
  description: 'Circuit-LoRA: every k steps find the top-N circuit on the task prompts and train low-rank adapters on exactly its nodes’ matrix slices; output the merged checkpoint.',
  config: CircuitLoraConfig,
  inputs: { ...trainingInputs, prompts: { kind: 'arrow', schema: PromptsTable } },
  outputs: { ...trainingOutputs, circuit_log: { kind: 'arrow', schema: CircuitLogTable } },
  async run(ctx) {
    const model = await loadModel(ctx.inputs.model);
    let adapters: CircuitLoraAdapters | undefined;
    try {
      const plannerConfig: CircuitTuningConfig = { ...ctx.config, mode: 'gradient-mask', trainEmbeddings: false, trainNorms: false };
      const { planner, circuitLog } = await startCircuitPlanner(ctx, model, plannerConfig, 'discover');
      const lora = new CircuitLoraAdapters(model, planner.parameterMap, ctx.config.lora, ctx.seed);
      adapters = lora;
      // The planner's circuit and which adapters have trained: both decide what a resumed step does.
      const planState: PlanState = {
        save: () => ({ planner: planner.save(), adapters: lora.save() }),
        restore: (state) => {
          const saved = state as { planner: unknown; adapters: unknown };
          planner.restore(saved.planner);
          lora.restore(saved.adapters);
        },
      };
      const { summary, log } = await trainAndSave(ctx, model, {
        plan: async (batch, step) => {
          await circuitLog.startAt(step);
          const { trained, log } = await planner.circuitAt(step, batch);
          // Every step's loss reads through the adapters, a skipped (empty-circuit) step's too.
          const loss: NonNullable<StepPlan['loss']> = (ids, weights, objective) => objective(model.forward(ids, {}, lora).logits, ids, weights);
          if (!trained) return { trainable: [], trainableCount: 0, log, loss };
          const circuit = planner.parameterMap.slicesOf(trained);
          const adapted = lora.activate(circuit);
          return { trainable: adapted.trainable, trainableCount: adapted.count, log: { ...log, circuit_nodes: circuit.nodes }, loss };
        },
        planState,
        extraVariables: lora.variables,
        evalWeights: lora,
        identity: { source: 'discover', adapters: 'circuit-lora', discovery: ctx.config.discovery, topN: ctx.config.topN, lora: ctx.config.lora },
        beforeSave: () => lora.merge(),
      });
      return { summary: { ...summary, adapters: lora.size, ...(await circuitLog.finish(ctx, log, ctx.config.emptyCircuit)) } };
    } finally {
      adapters?.dispose();
      model.dispose();
    }
  },
});
