import type { ModelGraph } from '@circuit-tuning/contracts';
import { disposeWriters, type TransformerModel, type WriterOutputs } from '@circuit-tuning/model';
import { tf } from '@circuit-tuning/runtime';
import { metricPerExample, type MetricTargets } from '../metrics/positions';
import type { MetricDefinition } from '../metrics/registry';
import type { PromptBatch } from '../prompts/prompt-set';
import { Ablation } from './ablation';
import type { ScoredPositions } from './attribution';

export interface ExactSettings {
  graph: ModelGraph;
  metric: MetricDefinition;
  ablation: Ablation;
  positions: ScoredPositions;
  signal?: AbortSignal | undefined;
  /** Called after each edge with the number of edges done in this batch. */
  onEdge?: ((done: number) => void) | undefined;
}

/**
 * Exact activation patching, one edge at a time (docs/method.md §2.2, for validation and small models):
 *
 *   score(e) += Σ_b [ m_b(every edge but e kept) − m_b(full model) ]
 *
 * through the edge-masked forward. With `positions: 'prediction'` the edge is ablated only at
 * each row's prediction position, which is exactly what EAP with those positions estimates;
 * with 'all' it is ablated everywhere. Adds the per-row sums to `into`; returns Σ_b m_b(full).
 */
export async function patchBatch(
  model: TransformerModel,
  batch: PromptBatch,
  targets: MetricTargets,
  settings: ExactSettings,
  into: Float64Array,
): Promise<number> {
  const { graph } = settings;
  const ids = tf.tensor2d(batch.clean, [batch.size, batch.seq], 'int32');
  let ablated: WriterOutputs | undefined;
  try {
    const clean = tf.tidy(() => {
      const out = model.forward(ids, { captureWriters: settings.positions === 'prediction' });
      return { sum: tf.sum(metricPerExample(settings.metric, out.logits, batch, targets)), writers: out.writers };
    });
    const base = { value: (await clean.sum.data())[0]!, clean: clean.writers };
    clean.sum.dispose();
    const full = settings.ablation.writersFor(batch);
    if (base.clean) {
      const mask = new Float32Array(batch.size * batch.seq);
      batch.pos.forEach((p, b) => {
        mask[b * batch.seq + p] = 1;
      });
      ablated = Ablation.restrictToTokens(full, base.clean, mask);
      disposeWriters(full);
      disposeWriters(base.clean);
    } else {
      ablated = full;
    }
    const keep = new Float32Array(graph.edgeCount).fill(1);
    for (let edge = 0; edge < graph.edgeCount; edge++) {
      settings.signal?.throwIfAborted();
      keep[edge] = 0;
      const circuit = { graph, keep, ablated };
      const patched = tf.tidy(() => tf.sum(metricPerExample(settings.metric, model.forward(ids, { circuit }).logits, batch, targets)));
      into[edge]! += ((await patched.data())[0] ?? 0) - base.value;
      patched.dispose();
      keep[edge] = 1;
      settings.onEdge?.(edge + 1);
    }
    return base.value;
  } finally {
    ids.dispose();
    if (ablated) disposeWriters(ablated);
  }
}
