import { ConfigError, ContractError, type ModelGraph } from '@circuit-tuning/contracts';
import type { TransformerModel } from '@circuit-tuning/model';
import { createRng, tf } from '@circuit-tuning/runtime';
import { metricTargets } from '../metrics/positions';
import { getMetric, type MetricDefinition } from '../metrics/registry';
import { type PromptSet, splitBatch } from '../prompts/prompt-set';
import { Ablation, type AblationKind } from './ablation';
import { attributeBatch, DEFAULT_SCORED_POSITIONS, type ScoredPositions } from './attribution';
import { patchBatch } from './exact';
import { rowsPerPass } from './pass-memory';

export type ScoringMethod = 'eap' | 'eap-ig' | 'exact' | 'random';
export const SCORING_METHODS: readonly ScoringMethod[] = ['eap', 'eap-ig', 'exact', 'random'];

export interface ScoreEdgesOptions {
  method: ScoringMethod;
  /** The graph to score; defaults to the model's full graph (with input and logits). */
  graph?: ModelGraph;
  /** A registered metric name or a definition (default 'logit-diff'). */
  metric?: string | MetricDefinition;
  ablation?: AblationKind;
  /** Where activation differences are summed (default DEFAULT_SCORED_POSITIONS, 'all'). */
  positions?: ScoredPositions;
  /** EAP-IG's integration steps m (default 5). */
  steps?: number;
  /** Rows per forward pass; defaults to what fits `memoryBudgetBytes`. */
  rowsPerPass?: number;
  /** Bytes one pass may use (default 1.5 GB) when `rowsPerPass` is not set; see pass-memory.ts. */
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
  const positions = options.positions ?? DEFAULT_SCORED_POSITIONS;
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
  if (graph.shape.mlpHeads !== undefined && model.config.dMlp % graph.shape.mlpHeads !== 0) {
    throw new ConfigError(`the graph's ${graph.shape.mlpHeads} MLP heads do not divide the model's ${model.config.dMlp} MLP neurons`);
  }
  if (options.method === 'exact' && graph.edgeCount > (options.maxExactEdges ?? 5_000)) {
    throw new ConfigError(`exact patching of ${graph.edgeCount} edges needs one forward pass per edge and batch`, {
      hint: `it is meant for validation on small models; raise maxExactEdges (now ${options.maxExactEdges ?? 5_000}) if you mean it`,
    });
  }

  const sums = new Float64Array(graph.edgeCount);
  // Exact patching runs edge-masked forwards; EAP and EAP-IG probed forward/backward passes.
  const passKind = options.method === 'exact' ? 'masked' : 'probed';
  const rowsFor = (seq: number) => options.rowsPerPass ?? rowsPerPass(model, seq, options.memoryBudgetBytes, passKind, graph.shape.mlpHeads);
  const ablation = await Ablation.create(ablationKind, model, prompts, { signal: options.signal, rowsPerPass: rowsFor, mlpHeads: graph.shape.mlpHeads });
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
