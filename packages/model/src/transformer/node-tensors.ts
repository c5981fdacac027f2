import type { ModelGraph, QkvLetter } from '@circuit-tuning/contracts';
import type { tf } from '@circuit-tuning/runtime';

/**
 * The tensors of docs/method.md §1, in the layout the forward pass produces them. "tokens" is
 * batch × seq flattened (row b·seq + t).
 */
export type WriterOutputs = {
  /** [tokens, dModel]: token + position embedding (the `input` node). */
  input: tf.Tensor2D;
  /** Per layer, [nHeads, tokens, dModel]: each head's z_h · W_O[h], without the shared b_O. */
  heads: tf.Tensor3D[];
  /** Per layer, [tokens, dModel]: each MLP's output, its output bias included. */
  mlps: tf.Tensor2D[];
  /**
   * Per layer, [K, tokens, dModel], when the forward ran with `mlpHeads: K` (docs/method.md §1): MLP
   * head j's output act(LN(x)·W_in[:, S_j] + b_in[S_j])·W_out[S_j, :], without the shared b_out.
   */
  mlpHeads?: tf.Tensor3D[];
};

/**
 * Tensors added to every reader's input (zeros for EAP: then one tf.grads gives ∂M/∂x_v for all
 * readers v at once).
 */
export interface ReaderProbes {
  /**
   * Per layer, [3 · nHeads, tokens, dModel], ordered q of heads 0…H-1, then k, then v; with k/v
   * readers per kv group, [nHeads + 2 · nKvHeads, tokens, dModel]: q of each head, k of each kv
   * group, v of each kv group (the graph's reader order, `attentionReaderIndices`).
   */
  attention: tf.Tensor3D[];
  /** Per layer, [tokens, dModel]: the MLP input. */
  mlp: tf.Tensor2D[];
  /**
   * Per layer, [K, tokens, dModel]: one input per MLP head (with `mlpHeads: K`), used instead of
   * `mlp`; each head normalises its own input and projects it through its own W_in columns.
   */
  mlpHeads?: tf.Tensor3D[];
  /** [tokens, dModel]: the final residual, before the final norm. */
  logits: tf.Tensor2D;
}

/** Slot of head h's q/k/v input within a layer's [3 · nHeads, …] attention-reader tensor. */
export function attentionReaderSlot(letter: QkvLetter, head: number, nHeads: number): number {
  return (letter === 'q' ? 0 : letter === 'k' ? 1 : 2) * nHeads + head;
}

/**
 * Graph reader indices of one layer's attention readers in the order of its per-reader attention
 * tensor (probes, gradients, a circuit's reader inputs): q heads, then k, then v, per head ([3H])
 * or, in a graph with kv groups, per kv group ([H + 2G], the graph's own order).
 */
export function attentionReaderIndices(graph: ModelGraph, layer: number): number[] {
  const { nHeads, kvGroups } = graph.shape;
  const first = graph.readerIndex(`a${layer}.h0<q>`);
  if (kvGroups !== undefined) return Array.from({ length: nHeads + 2 * kvGroups }, (_, slot) => first + slot);
  // Graph order is head-major (h0 q,k,v; h1 …); the tensor is letter-major.
  const readers: number[] = [];
  for (const letter of ['q', 'k', 'v'] as const) {
    for (let head = 0; head < nHeads; head++) readers[attentionReaderSlot(letter, head, nHeads)] = first + head * 3 + (letter === 'q' ? 0 : letter === 'k' ? 1 : 2);
  }
  return readers;
}

/** Disposes every tensor of a WriterOutputs (the caller owns what forward returns). */
export function disposeWriters(writers: WriterOutputs): void {
  writers.input.dispose();
  for (const t of writers.heads) t.dispose();
  for (const t of writers.mlps) t.dispose();
  for (const t of writers.mlpHeads ?? []) t.dispose();
}
