import { ConfigError, ContractError, type ModelGraph } from '@circuit-tuning/contracts';
import type { TransformerModel } from '@circuit-tuning/model';
import { createRng, nativeKernelsApplied, tf } from '@circuit-tuning/runtime';
import { metricTargets } from '../metrics/positions';
import { getMetric, type MetricDefinition } from '../metrics/registry';
import { type PromptSet, splitBatch } from '../prompts/prompt-set';
import { Ablation, type AblationKind } from './ablation';
import { attributeBatch, type ScoredPositions } from './attribution';
import { patchBatch } from './exact';

export type ScoringMethod = 'eap' | 'eap-ig' | 'exact' | 'random';
export const SCORING_METHODS: readonly ScoringMethod[] = ['eap', 'eap-ig', 'exact', 'random'];

export interface ScoreEdgesOptions {
  method: ScoringMethod;
  /** The graph to score; defaults to the model's full graph (with input and logits). */
  graph?: ModelGraph;
  /** A registered metric name or a definition (default 'logit-diff'). */
  metric?: string | MetricDefinition;
  ablation?: AblationKind;
  positions?: ScoredPositions;
  /** EAP-IG's integration steps m (default 5). */
  steps?: number;
  /** Rows per forward pass; defaults to what fits `memoryBudgetBytes`. */
  rowsPerPass?: number;
  /** Bytes one probed forward/backward may use (default 1.5 GB) when `rowsPerPass` is not set. */
  memoryBudgetBytes?: number;
  /** Refuse exact patching above this many edges (one forward pass per edge and batch). */
  maxExactEdges?: number;
  /** Seed of the random baseline. */
  seed?: number;
  signal?: AbortSignal;
  /** Progress in forward/backward units: (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Edge scores of one scoring run: signed, in units of the metric, averaged over examples. */
export interface EdgeScores {
  graph: ModelGraph;
  method: ScoringMethod;
  metric: string;
  ablation: AblationKind;
  positions: ScoredPositions;
  steps: number;
  /** One score per edge, in graph edge order: ≈ M(edge ablated) − M(clean). */
  scores: Float64Array;
  examples: number;
  /** M on the clean prompts, mean over examples (NaN for the random baseline). */
  metricClean: number;
}

/**
 * Scores every edge of the graph on a prompt set with one of the four methods. Deterministic for a
 * given model, prompts and options; frees every tensor it makes (the model's stay).
 *
 * Convention: score = (1/N) Σ_examples Σ_scored positions Σ_d (a_abl − a_clean) · ∂m/∂x, the
 * first-order estimate of M(edge ablated) − M(clean) with M the mean of the metric over the N
 * examples, so scores compare directly with exact patching. EAP-IG's code (and the golden
 * reference in fixtures/reference/gpt2-tiny) divides once more by the batch size: theirs = ours / batch.
 */
export async function scoreEdges(model: TransformerModel, prompts: PromptSet, options: ScoreEdgesOptions): Promise<EdgeScores> {
  const graph = options.graph ?? model.graph();
  const metric = typeof options.metric === 'object' ? options.metric : getMetric(options.metric ?? 'logit-diff');
  const ablationKind = options.ablation ?? 'corrupted';
  const positions = options.positions ?? 'prediction';
  const steps = options.method === 'eap-ig' ? (options.steps ?? 5) : 1;
  if (!Number.isInteger(steps) || steps < 1) throw new ConfigError(`EAP-IG needs a positive integer number of steps, got ${steps}`);
  if (graph.shape.nLayers !== model.config.nLayers || graph.shape.nHeads !== model.config.nHeads) {
    throw new ConfigError(`the graph is for ${graph.shape.nLayers} × ${graph.shape.nHeads}, the model is ${model.config.nLayers} × ${model.config.nHeads}`);
  }
  const result = (scores: Float64Array, metricClean: number): EdgeScores => ({
    graph,
    method: options.method,
    metric: metric.name,
    ablation: ablationKind,
    positions,
    steps,
    scores,
    examples: prompts.examples,
    metricClean,
  });

  if (prompts.examples === 0) throw new ContractError('no prompts to score');
  if (options.method === 'random') {
    // The baseline: scores with no information, seeded; |score| ranks the edges at random.
    const rng = createRng(options.seed ?? 0).fork('random-scores');
    return result(Float64Array.from({ length: graph.edgeCount }, () => rng.normal()), Number.NaN);
  }
  if (options.method === 'exact' && graph.edgeCount > (options.maxExactEdges ?? 5_000)) {
    throw new ConfigError(`exact patching of ${graph.edgeCount} edges needs one forward pass per edge and batch`, {
      hint: `it is meant for validation on small models; raise maxExactEdges (now ${options.maxExactEdges ?? 5_000}) if you mean it`,
    });
  }

  const sums = new Float64Array(graph.edgeCount);
  const rowsFor = (seq: number) => options.rowsPerPass ?? rowsPerPass(model, seq, options.memoryBudgetBytes);
  const ablation = await Ablation.create(ablationKind, model, prompts, { signal: options.signal, rowsPerPass: rowsFor });
  let metricSum = 0;
  try {
    const passes = prompts.batches.flatMap((batch) => splitBatch(batch, rowsFor(batch.seq)));
    const unitsPerPass = options.method === 'exact' ? graph.edgeCount : steps;
    const total = passes.length * unitsPerPass;
    let done = 0;
    for (const pass of passes) {
      options.signal?.throwIfAborted();
      const targets = metricTargets(pass, model.config.vocabSize);
      try {
        if (options.method === 'exact') {
          const onEdge = (n: number) => options.onProgress?.(done + n, total);
          metricSum += await patchBatch(model, pass, targets, { graph, metric, ablation, positions, signal: options.signal, onEdge }, sums);
        } else {
          metricSum += await attributeBatch(model, pass, targets, { graph, metric, ablation, positions, steps, signal: options.signal }, sums);
        }
      } finally {
        targets.dispose();
      }
      done += unitsPerPass;
      options.onProgress?.(done, total);
      await tf.nextFrame();
    }
  } finally {
    ablation.dispose();
  }
  for (let e = 0; e < sums.length; e++) sums[e]! /= prompts.examples;
  return result(sums, metricSum / prompts.examples);
}

/**
 * Rows per probed forward/backward pass that fit a memory budget (at least 1). The probed pass
 * holds, per token, one [3H + 2] × dModel reader input per layer several times over (probe,
 * layer-norm intermediates, gradient) and a few rows of logits; independent of the tokens, the
 * unembedding's transposed weight and its gradient (the runtime's matMul gradient computes the
 * weight's too). The copies factor was measured with bench/eap.bench.ts on GPT-2 small at 32
 * tokens a row: on plain wasm one row fits a 1.5 GB budget and four reach 3.7 GB of the 4 GB heap
 * (12); with the native kernels (fused LayerNorm and gelu, no tape copies) a row adds 356 MB and
 * four rows peak at 2.1 GB (7).
 */
export function rowsPerPass(model: TransformerModel, seq: number, budgetBytes = 1.5e9): number {
  const { nLayers, nHeads, dModel, vocabSize } = model.config;
  const copies = nativeKernelsApplied() ? 7 : 12;
  const fixed = 4 * 3 * vocabSize * dModel;
  const perToken = 4 * (copies * nLayers * (3 * nHeads + 2) * dModel + 6 * vocabSize);
  return Math.max(1, Math.floor((budgetBytes - fixed) / (perToken * seq)));
}
