import { z } from 'zod';
import { MIB_FRACTIONS } from './circuit/curve';
import { hasMetric, metricNames } from './metrics/registry';
import { ABLATION_KINDS } from './scoring/ablation';
import { DEFAULT_SCORED_POSITIONS, SCORED_POSITIONS } from './scoring/attribution';

/** Top-n's n when the config gives none (capped at the graph's edge count). */
export const DEFAULT_TOP_N = 300;

/** Which edges form the circuit, and how they are ranked. */
export const selectionConfig = z.strictObject({
  /** 'top-n' keeps the n (or fraction · edges) best edges; 'threshold' those scoring ≥ threshold. */
  mode: z
    .enum(['top-n', 'threshold'])
    .default('top-n')
    .describe("'top-n' keeps the n (or fraction · edges) best edges; 'threshold' those scoring ≥ threshold"),
  /**
   * Edges to keep in top-n mode: at least 1 (top-0 is an empty circuit) and at most the graph's
   * edge count, checked in discoverCircuit once the graph is known (a larger n used to be the
   * whole graph without a word). When absent, DEFAULT_TOP_N or the whole graph if it is smaller,
   * so the default suits models of any size.
   */
  n: z
    .number()
    .int()
    .min(1, { error: 'selection.n must be at least 1: top-0 selects no edge, an empty circuit' })
    .optional()
    .describe(`edges kept in top-n mode, 1 to the graph's edge count (default ${DEFAULT_TOP_N}, or every edge of a smaller graph)`),
  /** Overrides n: keep floor(fraction · edge count) edges. */
  fraction: z.number().gt(0).max(1).optional().describe('overrides n: keep floor(fraction · edge count) edges'),
  /** Threshold mode's cut: edges whose ranking score is at least this are kept. */
  threshold: z.number().optional().describe('threshold mode: keep the edges whose ranking score is ≥ this'),
  /** Rank by |score| (true) or by the signed score. */
  absolute: z.boolean().default(true).describe('rank by |score| (true) or by the signed score'),
  /** Rank by the "top nodes" reweighting |s(u,v)| · Σ_v' |s(u,v')| · Σ_u' |s(u',v)|. */
  topNodes: z.boolean().default(false).describe("rank by the \"top nodes\" reweighting |s(u,v)| · Σ_v' |s(u,v')| · Σ_u' |s(u',v)|"),
  /** Remove dangling edges and nodes. */
  prune: z.boolean().default(true).describe('remove dangling edges and nodes'),
});

/** The faithfulness curve (and MIB's CPR/CMD) over a grid of edge fractions. */
export const curveConfig = z.strictObject({
  /** Compute the curve (one ablated evaluation per fraction). */
  enabled: z.boolean().default(true).describe('compute the faithfulness curve (one ablated evaluation per fraction)'),
  /** Edge fractions of the curve, increasing, in (0, 1]; MIB's grid by default. */
  fractions: z
    .array(z.number().gt(0).max(1))
    .min(2)
    .refine((xs) => xs.every((x, i) => i === 0 || x > xs[i - 1]!), { message: 'fractions must increase' })
    .default([...MIB_FRACTIONS])
    .describe("edge fractions of the curve: at least two, increasing, each in (0, 1] (MIB's grid by default)"),
});

export const drawConfig = z.strictObject({
  /** Write the drawing as SVG. */
  svg: z.boolean().default(true).describe('write the circuit drawing as SVG'),
  /** Write the drawing as PNG. */
  png: z.boolean().default(true).describe('write the circuit drawing as PNG'),
  /** Draw at most this many circuit edges (the best-ranked). */
  maxEdges: z.number().int().positive().default(400).describe('draw at most this many circuit edges (the best-ranked)'),
});

/** The config every discovery variant shares; the defaults are the reference setting. */
export const discoveryConfigShape = {
  /** 'full': with the input and logits nodes (EAP-IG's graph); 'reference': without (the reference code's). */
  graph: z
    .enum(['full', 'reference'])
    .default('full')
    .describe("'full': with the input and logits nodes (EAP-IG's graph); 'reference': without (the reference code's)"),
  /**
   * k/v readers of grouped-query attention (Llama: fewer k/v heads than query heads): 'heads' (the
   * default, EAP-IG's ungrouped graph, what MIB scores Llama on) gives each query head its own k
   * and v reader `a3.h5<k>`; 'groups' gives one k and one v reader per kv group `a3.g1<k>` (the
   * reference code's graph: the group's heads share one k/v input). Without grouped attention both
   * have one k/v reader per head, only named differently.
   */
  kvReaders: z
    .enum(['heads', 'groups'])
    .default('heads')
    .describe("grouped-query attention: a k and a v reader per query head ('heads', EAP-IG's and MIB's graph) or per kv group ('groups', the reference code's)"),
  /** The task metric M that edges are scored on (a name in metrics/registry.ts). */
  metric: z
    .string()
    .default('logit-diff')
    .refine(hasMetric, { error: (issue) => `unknown metric '${String(issue.input)}'; valid: ${metricNames().join(', ')}` })
    // A getter, so that help lists the metrics registered when it is printed (registerMetric adds more).
    .meta({
      get description() {
        return `the task metric M that edges are scored on; one of: ${metricNames().join(', ')}`;
      },
    }),
  /** What an ablated writer contributes (scoring/ablation.ts, docs/method.md §2.3). */
  ablation: z
    .enum(ABLATION_KINDS)
    .default('corrupted')
    .describe(
      "what an ablated writer contributes: 'corrupted' its output on the paired corrupted prompt, 'mean' its mean over all clean prompts and positions, 'mean-positional' that mean per position, 'zero' nothing",
    ),
  /**
   * Where activation differences are summed: each prompt's prediction position, or all positions.
   * 'all' by default, whatever the ablation, so that scoring measures the intervention that
   * evaluation applies: a circuit is always run ablated at every position (faithfulness, curves,
   * N*). With corrupted prompts that differ before the prediction position (the subject of an
   * agreement prompt with an attractor, a name in IOI), 'prediction' gave every input→* edge a
   * score of exactly 0 and pruning then emptied the circuit (IOI on the embedded model: 0 edges,
   * faithfulness 0). EAP, EAP-IG and MIB sum over all positions too; 'prediction' with mean
   * ablation is the reference code's setting, available by saying so.
   */
  positions: z
    .enum(SCORED_POSITIONS)
    .default(DEFAULT_SCORED_POSITIONS)
    .describe(
      "where activation differences are summed: 'all' (default; scoring then matches evaluation, which ablates at every position) or each prompt's 'prediction' position (input edges score 0 when the corruption sits at an earlier token)",
    ),
  /** Prompt rows to use: one split / task, at most maxExamples rows. All rows when absent. */
  split: z.string().optional().describe('use only the prompt rows of this split (all rows when absent)'),
  task: z.string().optional().describe('use only the prompt rows of this task (all rows when absent)'),
  maxExamples: z.number().int().positive().optional().describe('use at most this many prompt rows (all when absent)'),
  /** Rows per forward/backward pass; when absent, what fits memoryBudgetMB. */
  batchSize: z.number().int().positive().optional().describe('rows per forward/backward pass; when absent, what fits memoryBudgetMB'),
  /** Memory one pass may use; when absent 1,500 MB on wasm (its 4 GB heap), 6,000 MB on the native and cpu backends. */
  memoryBudgetMB: z
    .number()
    .positive()
    .optional()
    .describe('memory one pass may use; when absent 1,500 MB on wasm (its 4 GB heap), 6,000 MB on the native and cpu backends'),
  /** Re-encode a few prompts with the model's tokenizer and compare with their ids. */
  checkTokenizer: z.boolean().default(true).describe("re-encode a few prompts with the model's tokenizer and compare with their ids"),
  selection: selectionConfig.prefault({}).describe('which edges form the circuit, and how they are ranked'),
  curve: curveConfig.prefault({}).describe("the faithfulness curve (and MIB's CPR/CMD) over a grid of edge fractions"),
  draw: drawConfig.prefault({}).describe('the drawing of the circuit'),
  /**
   * Node entries of the circuit JSON: 'object' ({ in_graph }, what EAP-IG 2.x's Graph.from_json
   * and MIB read) or 'bool' (EAP-IG 0.1); see EAP_IG_NODE_FORMATS in io/eap-ig-json.ts.
   */
  eapIgNodeFormat: z
    .enum(['object', 'bool'])
    .default('object')
    .describe("node entries of the circuit JSON: 'object' ({ in_graph }, read by EAP-IG 2.x and MIB) or 'bool' (EAP-IG 0.1)"),
};

export const eapConfig = z.strictObject(discoveryConfigShape);
export const eapIgConfig = z.strictObject({
  ...discoveryConfigShape,
  /** Integration steps m along the input-embedding path (docs/method.md §2.2: 5 to 20). */
  steps: z.number().int().min(1).max(512).default(5).describe('integration steps m along the input-embedding path, 1 to 512 (docs/method.md §2.2: 5 to 20)'),
});
export const exactConfig = z.strictObject({
  ...discoveryConfigShape,
  /** Refuse graphs larger than this: exact patching runs one forward pass per edge. */
  maxEdges: z.number().int().positive().default(5_000).describe('refuse graphs larger than this: exact patching runs one forward pass per edge'),
});
export const randomConfig = z.strictObject(discoveryConfigShape);

/** A parsed config of any variant. */
export type DiscoveryConfig = z.output<typeof eapConfig> & { steps?: number; maxEdges?: number };
export type DiscoveryConfigInput = z.input<typeof eapIgConfig> & { maxEdges?: number };
