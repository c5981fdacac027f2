import { ConfigError, type ModelGraph } from '@circuit-tuning/contracts';
import { disposeWriters, type TransformerModel } from '@circuit-tuning/model';
import { tf } from '@circuit-tuning/runtime';
import { metricPerExample, metricTargets } from '../metrics/positions';
import { getMetric, type MetricDefinition } from '../metrics/registry';
import { type PromptSet, splitBatch } from '../prompts/prompt-set';
import { Ablation, type AblationKind } from '../scoring/ablation';
import { rowsPerPass } from '../scoring/pass-memory';

export interface EvaluateOptions {
  metric?: string | MetricDefinition;
  ablation?: AblationKind;
  /** Rows per forward pass; defaults to what fits `memoryBudgetBytes`. */
  rowsPerPass?: number;
  /** Bytes one edge-masked forward pass may use (default 1.5 GB). */
  memoryBudgetBytes?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** Mean metric of the full model and of each circuit (edge masks in graph order), over all prompts. */
export interface CircuitMetrics {
  full: number;
  circuits: number[];
}

/**
 * Runs circuits (docs/method.md §2.4): each reader's input is Σ_kept a_u +
 * Σ_not-kept ablated(a_u), ablated at every position. Ablation values are computed once per batch
 * and shared by all masks, so a whole faithfulness curve costs one ablation per batch.
 */
export async function evaluateCircuits(
  model: TransformerModel,
  prompts: PromptSet,
  graph: ModelGraph,
  masks: readonly ArrayLike<number>[],
  options: EvaluateOptions = {},
): Promise<CircuitMetrics> {
  const metric = typeof options.metric === 'object' ? options.metric : getMetric(options.metric ?? 'logit-diff');
  for (const mask of masks) {
    if (mask.length !== graph.edgeCount) throw new ConfigError(`a circuit mask has ${mask.length} entries, the graph has ${graph.edgeCount} edges`);
  }
  const keeps = masks.map((m) => (m instanceof Float32Array ? m : Float32Array.from(m)));
  const rowsFor = (seq: number) => options.rowsPerPass ?? rowsPerPass(model, seq, options.memoryBudgetBytes, 'masked', graph.shape.mlpHeads);
  // A graph with MLP heads ablates each head's output (the edge-masked forward runs the heads).
  const ablation = await Ablation.create(options.ablation ?? 'corrupted', model, prompts, { signal: options.signal, rowsPerPass: rowsFor, mlpHeads: graph.shape.mlpHeads });
  let full = 0;
  const sums = new Float64Array(masks.length);
  try {
    const passes = prompts.batches.flatMap((b) => splitBatch(b, rowsFor(b.seq)));
    const total = passes.length * (masks.length + 1);
    let done = 0;
    for (const pass of passes) {
      options.signal?.throwIfAborted();
      const ids = tf.tensor2d(pass.clean, [pass.size, pass.seq], 'int32');
      const targets = metricTargets(pass, model.config.vocabSize);
      const ablated = ablation.writersFor(pass);
      try {
        const sumOf = (logits: () => tf.Tensor3D) => tf.tidy(() => tf.sum(metricPerExample(metric, logits(), pass, targets)));
        // The plain forward first: it is also what sets the KL metric's clean reference.
        const plain = sumOf(() => model.logits(ids));
        full += (await plain.data())[0]!;
        plain.dispose();
        options.onProgress?.(++done, total);
        for (let i = 0; i < keeps.length; i++) {
          options.signal?.throwIfAborted();
          const value = sumOf(() => model.forward(ids, { circuit: { graph, keep: keeps[i]!, ablated } }).logits);
          sums[i]! += (await value.data())[0]!;
          value.dispose();
          options.onProgress?.(++done, total);
        }
      } finally {
        ids.dispose();
        targets.dispose();
        disposeWriters(ablated);
      }
    }
  } finally {
    ablation.dispose();
  }
  return { full: full / prompts.examples, circuits: Array.from(sums, (s) => s / prompts.examples) };
}

/** (M(C) − M(∅)) / (M(full) − M(∅)); NaN when the full model and the empty circuit agree. */
export function faithfulness(metricCircuit: number, metricFull: number, metricEmpty: number): number {
  const range = metricFull - metricEmpty;
  return range === 0 ? Number.NaN : (metricCircuit - metricEmpty) / range;
}
