import { PromptsTable } from '@circuit-tuning/contracts';
import { loadModel } from '@circuit-tuning/model';
import { defineStage, ensureBackend, type StageContext, StageRegistry } from '@circuit-tuning/runtime';
import type { z } from 'zod';
import { type DiscoveryConfig, eapConfig, eapIgConfig, exactConfig, randomConfig } from '../config';
import { discoverCircuit } from '../discover-circuit';
import { readPromptSet } from '../prompts/read-prompts';
import type { ScoringMethod } from '../scoring/score-edges';
import { DiscoveryEdgesTable, DiscoveryNodesTable, FaithfulnessCurveTable } from '../tables';
import { DiscoverySummary, writeDiscoveryOutputs } from './outputs';

const inputs = {
  model: { kind: 'model-dir', description: 'Hugging Face-layout model directory (e.g. the load stage’s output)' },
  prompts: { kind: 'arrow', schema: PromptsTable, description: 'clean/corrupted prompt pairs with prediction position, answer and foil' },
} as const;

const outputs = {
  edges: { kind: 'arrow', schema: DiscoveryEdgesTable, description: 'every edge: score, rank, in_circuit' },
  nodes: { kind: 'arrow', schema: DiscoveryNodesTable, description: 'every node: score, in_circuit' },
  curve: { kind: 'arrow', schema: FaithfulnessCurveTable, optional: true, description: 'faithfulness of top-N circuits over edge fractions' },
  summary: { kind: 'json', schema: DiscoverySummary, description: 'settings, faithfulness of the circuit, CPR and CMD' },
  circuit: { kind: 'json', description: "the circuit in EAP-IG's JSON format (Graph.from_json)" },
  svg: { kind: 'file', fileName: 'circuit.svg', optional: true, description: 'layered drawing of the circuit' },
  png: { kind: 'file', fileName: 'circuit.png', optional: true, description: 'the drawing as PNG' },
} as const;

type DiscoverContext = StageContext<DiscoveryConfig, typeof inputs, typeof outputs>;

/** The run every variant shares: load, check, score, select, measure, write. */
async function runDiscovery(method: ScoringMethod, ctx: DiscoverContext) {
  const { config } = ctx;
  await ensureBackend();
  const model = await loadModel(ctx.inputs.model, { tokenizer: 'optional' });
  try {
    const { prompts } = await readPromptSet(ctx.inputs.prompts, model, config);
    ctx.logger.info(`scoring ${model.graph({ includeInputAndLogits: config.graph === 'full', kvReaders: config.kvReaders }).edgeCount} edges on ${prompts.examples} prompts`, {
      method,
      metric: config.metric,
      ablation: config.ablation,
    });
    const progress = { scoring: ctx.progress('scoring'), evaluation: ctx.progress('evaluating circuits') };
    const result = await discoverCircuit(model, prompts, method, config, {
      seed: ctx.seed,
      signal: ctx.signal,
      onProgress: (phase, done, total) => {
        progress[phase].update(done, { total });
        if (done === total) progress[phase].done();
      },
    });
    const summary = await writeDiscoveryOutputs(
      model,
      result,
      config,
      {
        edges: ctx.output('edges'),
        nodes: ctx.output('nodes'),
        summary: ctx.output('summary'),
        circuit: ctx.output('circuit'),
        curve: config.curve.enabled ? ctx.output('curve') : undefined,
        svg: config.draw.svg ? ctx.output('svg') : undefined,
        png: config.draw.png ? ctx.output('png') : undefined,
      },
      { producer: ctx.producer, logger: ctx.logger },
    );
    ctx.logger.info('circuit', { edges: summary.circuit.edges, nodes: summary.circuit.nodes, faithfulness: summary.circuit.faithfulness });
    return {
      summary: {
        examples: summary.examples,
        edges: summary.circuit.edges,
        nodes: summary.circuit.nodes,
        faithfulness: summary.circuit.faithfulness,
        cpr: summary.curve?.cpr ?? null,
        cmd: summary.curve?.cmd ?? null,
      },
    };
  } finally {
    model.dispose();
  }
}

const description = (what: string) => `Circuit discovery by ${what}: edge scores, the selected circuit, its faithfulness curve, EAP-IG JSON and a drawing.`;

/** discover:eap — attribution patching (one forward and one backward pass per batch). */
export const discoverEap = defineStage({
  slot: 'discover',
  variant: 'eap',
  // Version 3: the circuit drawing is viz's one drawer (hover names and scores, arcs in the centre column).
  // Version 4: prompts of different lengths scored in padded batches (same scores to float rounding).
  // Version 5: CPR/CMD integrate over the share of edges kept after pruning, as MIB defines them
  // (they were over the nominal fractions, now cprNominal/cmdNominal beside them).
  version: 5,
  description: description('EAP (edge attribution patching)'),
  config: eapConfig,
  inputs,
  outputs,
  run: (ctx) => runDiscovery('eap', ctx as DiscoverContext),
});

/** discover:eap-ig — EAP with integrated gradients over the input embeddings (m steps). */
export const discoverEapIg = defineStage({
  slot: 'discover',
  variant: 'eap-ig',
  // Version 3: the circuit drawing is viz's one drawer (hover names and scores, arcs in the centre column).
  // Version 4: prompts of different lengths scored in padded batches (same scores to float rounding).
  // Version 5: CPR/CMD integrate over the share of edges kept after pruning, as MIB defines them
  // (they were over the nominal fractions, now cprNominal/cmdNominal beside them).
  version: 5,
  description: description('EAP-IG (integrated gradients over input embeddings)'),
  config: eapIgConfig,
  inputs,
  outputs,
  run: (ctx) => runDiscovery('eap-ig', ctx as DiscoverContext),
});

/** discover:exact — exact activation patching, one edge-masked forward pass per edge. */
export const discoverExact = defineStage({
  slot: 'discover',
  variant: 'exact',
  // Version 3: the circuit drawing is viz's one drawer (hover names and scores, arcs in the centre column).
  // Version 4: prompts of different lengths scored in padded batches (same scores to float rounding).
  // Version 5: CPR/CMD integrate over the share of edges kept after pruning, as MIB defines them
  // (they were over the nominal fractions, now cprNominal/cmdNominal beside them).
  version: 5,
  description: description('exact activation patching (for validation and small models)'),
  config: exactConfig,
  inputs,
  outputs,
  run: (ctx) => runDiscovery('exact', ctx as DiscoverContext),
});

/** discover:random — the random-score baseline (seeded by the run's seed). */
export const discoverRandom = defineStage({
  slot: 'discover',
  variant: 'random',
  // Version 3: the circuit drawing is viz's one drawer (hover names and scores, arcs in the centre column).
  // Version 4: prompts of different lengths scored in padded batches (same scores to float rounding).
  // Version 5: CPR/CMD integrate over the share of edges kept after pruning, as MIB defines them
  // (they were over the nominal fractions, now cprNominal/cmdNominal beside them).
  version: 5,
  description: description('random scores (a baseline)'),
  config: randomConfig,
  inputs,
  outputs,
  run: (ctx) => runDiscovery('random', ctx as DiscoverContext),
});

/** The four variants of the `discover` slot, by variant name. */
export const discoverStages = {
  eap: discoverEap,
  'eap-ig': discoverEapIg,
  exact: discoverExact,
  random: discoverRandom,
} as const;

/** Registers every discover variant (e.g. into the CLI's registry). */
export function registerDiscoverStages(registry: StageRegistry = new StageRegistry()): StageRegistry {
  for (const stage of Object.values(discoverStages)) registry.register(stage);
  return registry;
}

export type DiscoverStageConfig<V extends keyof typeof discoverStages> = z.input<(typeof discoverStages)[V]['config']>;
