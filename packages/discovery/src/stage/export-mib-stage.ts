/**
 * `export:mib` — a discovery run's edge scores as MIB's circuit submission folder
 * (`<task>_<model>/importances.json`, or nine circuits at MIB's edge budgets; see io/mib.ts).
 * It reads the `edges` table of a `discover:*` step and only the config.json of the model (layers,
 * heads, d_model), so it runs in a moment and never loads weights.
 */
import { buildGraph, ContractError } from '@circuit-tuning/contracts';
import { readModelConfig } from '@circuit-tuning/model';
import { defineStage, readArrowTable } from '@circuit-tuning/runtime';
import { z } from 'zod';
import { circuitFromMask } from '../circuit/selection';
import { mibSubmission, writeMibSubmission } from '../io/mib';
import { DiscoveryEdgesTable } from '../tables';

/** MIB splits the folder name at '_' into task and model, so neither may contain one. */
const MibName = z.string().regex(/^[A-Za-z0-9.-]+$/, "letters, digits, '.' and '-' only (MIB splits the folder name at '_')");

export const exportMibStage = defineStage({
  slot: 'export',
  variant: 'mib',
  version: 1,
  description: "Write a discovery run's edge scores as MIB's circuit-localization submission folder (<task>_<model>/importances.json, or nine circuits at 0.1-50 % of the edges).",
  config: z.strictObject({
    /** MIB's task name (ioi, mcqa, arithmetic-addition, arc-easy, …) or your own. */
    task: MibName.describe("MIB's task name (ioi, mcqa, arithmetic-addition, arc-easy, …) or your own; letters, digits, '.' and '-'"),
    /** MIB's model name (gpt2, qwen2.5, gemma2, llama3) or your own. */
    model: MibName.describe("MIB's model name (gpt2, qwen2.5, gemma2, llama3) or your own; letters, digits, '.' and '-'"),
    /** `importances`: one file of scores. `circuits`: nine binary circuits at MIB's edge budgets. */
    kind: z
      .enum(['importances', 'circuits'])
      .default('importances')
      .describe("'importances': one file of scores; 'circuits': nine binary circuits at MIB's edge budgets"),
    /** Rank edges by |score| (MIB's choice) or by the signed score, for `circuits`. */
    absolute: z.boolean().default(true).describe("rank edges by |score| (MIB's choice) or by the signed score, for 'circuits'"),
  }),
  inputs: {
    edges: { kind: 'arrow', schema: DiscoveryEdgesTable, description: "a discover step's edges table (discovered on the full graph)" },
    model: { kind: 'model-dir', description: 'the model the edges were scored on (only its config.json is read)' },
  },
  outputs: {
    submission: { kind: 'model-dir', description: 'the submission folder: upload it to a Hugging Face repository as it is' },
  },
  async run(ctx) {
    const config = await readModelConfig(ctx.inputs.model);
    const graph = buildGraph({ nLayers: config.nLayers, nHeads: config.nHeads });
    const table = await readArrowTable(ctx.inputs.edges, DiscoveryEdgesTable);
    const { name, score, in_circuit: inCircuit } = table.columns;
    const index = new Map(graph.edgeNames().map((edge, e) => [edge, e]));
    if (name.length !== graph.edgeCount || name.some((edge) => !index.has(edge))) {
      throw new ContractError(`${ctx.inputs.edges}: ${name.length} edges, not the ${graph.edgeCount} edges of the full graph of a ${config.nLayers}-layer, ${config.nHeads}-head model`, {
        hint: "MIB counts the input and logits edges: discover with graph: 'full' (the default), on this model",
      });
    }
    const scores = new Float64Array(graph.edgeCount);
    const keep = new Uint8Array(graph.edgeCount);
    name.forEach((edge, row) => {
      const e = index.get(edge)!;
      scores[e] = score[row]!;
      keep[e] = inCircuit[row] ? 1 : 0;
    });
    const files = mibSubmission(graph, scores, circuitFromMask(graph, keep, { prune: false }), { ...ctx.config, dModel: config.dModel });
    const written = await writeMibSubmission(ctx.output('submission'), files);
    ctx.logger.info(`wrote ${written.length} MIB file(s) for ${ctx.config.task}_${ctx.config.model}`, { kind: ctx.config.kind });
    return { summary: { folder: `${ctx.config.task}_${ctx.config.model}`, kind: ctx.config.kind, files: written.length, edges: graph.edgeCount } };
  },
});
