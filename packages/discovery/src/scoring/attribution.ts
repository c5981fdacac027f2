import { ContractError, type ModelGraph } from '@circuit-tuning/contracts';
import { attentionReaderIndices, disposeWriters, type ReaderProbes, type TransformerModel, type WriterOutputs } from '@circuit-tuning/model';
import { matMul, tf } from '@circuit-tuning/runtime';
import { metricPerExample, type MetricTargets } from '../metrics/positions';
import type { MetricDefinition } from '../metrics/registry';
import { isPadded, type PromptBatch } from '../prompts/prompt-set';
import type { Ablation } from './ablation';

/** Where the activation difference is summed: each row's prediction position, or every position. */
export type ScoredPositions = 'prediction' | 'all';
export const SCORED_POSITIONS: readonly ScoredPositions[] = ['prediction', 'all'];
/** The default everywhere edges are scored (discovery, redundancy, circuit-tuning): see `positions` in config.ts. */
export const DEFAULT_SCORED_POSITIONS: ScoredPositions = 'all';

export interface AttributionSettings {
  graph: ModelGraph;
  metric: MetricDefinition;
  ablation: Ablation;
  positions: ScoredPositions;
  /**
   * Integration steps m along the input-embedding path from the ablated to the clean input.
   * 1 is EAP (the gradient at the clean input only); m > 1 is EAP-IG.
   */
  steps: number;
  signal?: AbortSignal | undefined;
}

/**
 * EAP and EAP-IG on one batch (docs/method.md §2.2; Syed et al. 2023; Hanna et al. 2024):
 *
 *   score(u→v) += Σ_b Σ_{t scored} Σ_d (a_u^abl − a_u^clean)[b,t,d] · (1/m) Σ_{k=1..m} ∂m_b/∂x_v [b,t,d] at α = k/m
 *
 * where m_b is the metric of row b, and the k-th forward pass runs on the input embedding
 * x_abl + (k/m)(x_clean − x_abl) (EAP-IG-inputs). Gradients for every reader at once come from one
 * backward pass w.r.t. zero probes added to the reader inputs. The per-row sum is added to `into`
 * (edge order); the caller divides by the number of examples. Returns Σ_b m_b on the clean run.
 */
export async function attributeBatch(
  model: TransformerModel,
  batch: PromptBatch,
  targets: MetricTargets,
  settings: AttributionSettings,
  into: Float64Array,
): Promise<number> {
  const { graph, steps } = settings;
  const ids = tf.tensor2d(batch.clean, [batch.size, batch.seq], 'int32');
  const ablated = settings.ablation.writersFor(batch);
  let clean: WriterOutputs | undefined;
  let deltas: tf.Tensor2D | undefined;
  const tokenRows = scoredTokenRows(batch, settings.positions);
  try {
    // α = 1 first: the clean run, which also captures the clean writer outputs.
    settings.signal?.throwIfAborted();
    const first = await probeGradients(model, ids, undefined, batch, targets, settings, true);
    clean = first.writers!;
    deltas = writerDeltas(graph, ablated, clean, tokenRows); // [nWriters, S·D]
    await contract(graph, deltas, first.grads, tokenRows, 1 / steps, into);
    for (let k = 1; k < steps; k++) {
      settings.signal?.throwIfAborted();
      const alpha = k / steps;
      const embeddings = tf.tidy(() => tf.add(ablated.input, tf.mul(tf.sub(clean!.input, ablated.input), alpha)) as tf.Tensor2D); // [tokens, D]
      try {
        const step = await probeGradients(model, ids, embeddings, batch, targets, settings, false);
        await contract(graph, deltas, step.grads, tokenRows, 1 / steps, into);
      } finally {
        embeddings.dispose();
      }
    }
    return first.value;
  } finally {
    ids.dispose();
    tokenRows?.dispose();
    deltas?.dispose();
    disposeWriters(ablated);
    if (clean) disposeWriters(clean);
  }
}

/** Reader gradients ∂(Σ_b m_b)/∂x_v, in the probes' layout; owned by the caller. */
interface ReaderGradients {
  attention: tf.Tensor3D[]; // per layer [3H, tokens, D], q heads, k heads, v heads ([H + 2G]: k, v per kv group)
  mlp: tf.Tensor[]; // per layer [tokens, D], or [K, tokens, D] with K MLP heads
  logits: tf.Tensor2D | undefined; // [tokens, D]; absent without a logits reader
}

/** One forward pass with zero probes on every reader input and one backward pass. */
async function probeGradients(
  model: TransformerModel,
  ids: tf.Tensor2D,
  inputEmbeddings: tf.Tensor2D | undefined,
  batch: PromptBatch,
  targets: MetricTargets,
  settings: AttributionSettings,
  capture: boolean,
): Promise<{ value: number; grads: ReaderGradients; writers: WriterOutputs | undefined }> {
  const { nLayers, nHeads, dModel } = model.config;
  const tokens = batch.size * batch.seq;
  const withLogits = settings.graph.includeInputAndLogits;
  // With MLP heads (docs/method.md §1) each MLP head reads through its own probe [K, tokens, D].
  const k = settings.graph.shape.mlpHeads;
  // One probe per attention reader: q, k, v per head, or k and v per kv group (graph.shape.kvGroups).
  const kvGroups = settings.graph.shape.kvGroups;
  const attentionRows = kvGroups === undefined ? 3 * nHeads : nHeads + 2 * kvGroups;
  const attention = Array.from({ length: nLayers }, () => tf.zeros([attentionRows, tokens, dModel]) as tf.Tensor3D);
  const mlp = Array.from({ length: nLayers }, () => (k === undefined ? tf.zeros([tokens, dModel]) : tf.zeros([k, tokens, dModel])));
  const logitsProbe = tf.zeros([tokens, dModel]) as tf.Tensor2D;
  const zeroMlp = k === undefined ? [] : Array.from({ length: nLayers }, () => tf.zeros([tokens, dModel]) as tf.Tensor2D);
  const xs: tf.Tensor[] = [...attention, ...mlp, ...(withLogits ? [logitsProbe] : [])];
  let writers: WriterOutputs | undefined;
  const f = (...p: tf.Tensor[]): tf.Scalar => {
    const mlpProbes = p.slice(nLayers, 2 * nLayers);
    const probes: ReaderProbes = {
      attention: p.slice(0, nLayers) as tf.Tensor3D[],
      ...(k === undefined ? { mlp: mlpProbes as tf.Tensor2D[] } : { mlp: zeroMlp, mlpHeads: mlpProbes as tf.Tensor3D[] }),
      logits: withLogits ? (p[2 * nLayers] as tf.Tensor2D) : logitsProbe,
    };
    const out = model.forward(ids, {
      probes,
      captureWriters: capture,
      ...(inputEmbeddings ? { inputEmbeddings } : {}),
      ...(k === undefined ? {} : { mlpHeads: k }),
    });
    if (capture) {
      // Clones (no copy: they share the data) kept past the gradient's scopes: the tape disposes
      // the tensors it saved for the backward pass, which may include the originals.
      const w = out.writers!;
      const keep = <T extends tf.Tensor>(t: T): T => tf.keep(tf.clone(t));
      writers = { input: keep(w.input), heads: w.heads.map(keep), mlps: w.mlps.map(keep), ...(w.mlpHeads ? { mlpHeads: w.mlpHeads.map(keep) } : {}) };
    }
    return tf.sum(metricPerExample(settings.metric, out.logits, batch, targets)) as tf.Scalar;
  };
  try {
    const { value, grads } = tf.valueAndGrads(f)(xs);
    // Read asynchronously: a GPU backend cannot read synchronously under Node (docs/runtime.md §7).
    const total = (await value.data())[0]!;
    value.dispose();
    return {
      value: total,
      grads: {
        attention: grads.slice(0, nLayers) as tf.Tensor3D[],
        mlp: grads.slice(nLayers, 2 * nLayers),
        logits: withLogits ? (grads[2 * nLayers] as tf.Tensor2D) : undefined,
      },
      writers,
    };
  } finally {
    tf.dispose([...attention, ...mlp, logitsProbe, ...zeroMlp]);
  }
}

/** Token rows whose activation differences count: [S] int32, or undefined for every row. */
function scoredTokenRows(batch: PromptBatch, positions: ScoredPositions): tf.Tensor1D | undefined {
  if (positions === 'all') {
    if (!isPadded(batch)) return undefined;
    // Every real token, none of the padding (whose gradients are zero anyway: nothing reads them).
    const rows: number[] = [];
    batch.lengths.forEach((n, b) => {
      for (let t = 0; t < n; t++) rows.push(b * batch.seq + t);
    });
    return tf.tensor1d(rows, 'int32');
  }
  return tf.tensor1d(
    Array.from(batch.pos, (p, b) => b * batch.seq + p),
    'int32',
  );
}

/** Rows of t along `axis` (forward only: gather's gradient is never needed here). */
const selectRows = (t: tf.Tensor, rows: tf.Tensor1D | undefined, axis: number) => (rows === undefined ? t : tf.gather(t, rows, axis));

/** a_u^abl − a_u^clean for every writer of the graph, in writer order: [nWriters, S·D]. */
function writerDeltas(graph: ModelGraph, ablated: WriterOutputs, clean: WriterOutputs, rows: tf.Tensor1D | undefined): tf.Tensor2D {
  return tf.tidy(() => {
    const parts: tf.Tensor[] = [];
    const flat = (t: tf.Tensor, count: number) => tf.reshape(t, [count, -1]);
    if (graph.includeInputAndLogits) parts.push(flat(selectRows(tf.sub(ablated.input, clean.input), rows, 0), 1));
    clean.heads.forEach((heads, layer) => {
      parts.push(flat(selectRows(tf.sub(ablated.heads[layer]!, heads), rows, 1), heads.shape[0]));
      const mlpHeads = clean.mlpHeads?.[layer];
      if (graph.shape.mlpHeads !== undefined) {
        if (!mlpHeads || !ablated.mlpHeads) throw new ContractError('a graph with MLP heads needs the MLP heads’ writer outputs');
        parts.push(flat(selectRows(tf.sub(ablated.mlpHeads[layer]!, mlpHeads), rows, 1), mlpHeads.shape[0]));
      } else {
        parts.push(flat(selectRows(tf.sub(ablated.mlps[layer]!, clean.mlps[layer]!), rows, 0), 1));
      }
    });
    return tf.concat(parts, 0) as tf.Tensor2D;
  });
}

/**
 * Σ over scored rows and d of deltas[u] · grad[v] for every edge u→v, one matMul per layer
 * (the layer's 3H attention readers and its MLP reader together), times `weight`, added to `into`.
 * Disposes the gradients.
 */
async function contract(
  graph: ModelGraph,
  deltas: tf.Tensor2D,
  grads: ReaderGradients,
  rows: tf.Tensor1D | undefined,
  weight: number,
  into: Float64Array,
): Promise<void> {
  const mlpReaders = graph.shape.mlpHeads ?? 1;
  const width = deltas.shape[1];
  try {
    for (let layer = 0; layer < grads.attention.length; layer++) {
      const upstream = graph.mlpWriter[layer]!; // writers feeding the MLP: a superset of the heads' ones
      if (upstream === 0) continue;
      // The layer's readers in the gradients' order: its attention readers (q heads, then k and v
      // per head or per kv group), then the MLP or its heads (graph order, after the attention's).
      const attentionReaders = attentionReaderIndices(graph, layer);
      const firstMlpReader = graph.readerIndex(graph.shape.mlpHeads === undefined ? `m${layer}` : `m${layer}.n0`);
      const layerReaders = [...attentionReaders, ...Array.from({ length: mlpReaders }, (_, j) => firstMlpReader + j)];
      const perLayer = layerReaders.length;
      const block = tf.tidy(() => {
        const readerGrads = tf.concat(
          [
            tf.reshape(selectRows(grads.attention[layer]!, rows, 1), [attentionReaders.length, width]),
            tf.reshape(selectRows(grads.mlp[layer]!, rows, grads.mlp[layer]!.rank - 2), [mlpReaders, width]),
          ],
          0,
        ); // [A + K, S·D], A = 3H (or H + 2G), K = 1 without MLP heads
        return matMul(tf.slice(deltas, [0, 0], [upstream, width]), tf.transpose(readerGrads) as tf.Tensor2D); // [upstream, A + K]
      });
      const values = (await block.data()) as Float32Array;
      block.dispose();
      layerReaders.forEach((reader, slot) => {
        const count = graph.upstreamCount[reader]!;
        const offset = graph.edgeOffset[reader]!;
        for (let w = 0; w < count; w++) into[offset + w]! += weight * values[w * perLayer + slot]!;
      });
    }
    if (grads.logits !== undefined) {
      const reader = graph.readers.length - 1;
      const count = graph.upstreamCount[reader]!;
      const block = tf.tidy(() =>
        matMul(tf.slice(deltas, [0, 0], [count, width]), tf.transpose(tf.reshape(selectRows(grads.logits!, rows, 0), [1, width])) as tf.Tensor2D),
      ); // [writers, 1]
      const values = (await block.data()) as Float32Array;
      block.dispose();
      const offset = graph.edgeOffset[reader]!;
      for (let w = 0; w < count; w++) into[offset + w]! += weight * values[w]!;
    }
  } finally {
    tf.dispose([...grads.attention, ...grads.mlp, ...(grads.logits ? [grads.logits] : [])]);
  }
}
