import type { ModelGraph } from '@circuit-tuning/contracts';

/**
 * Removes dangling edges: an edge stays only if its writer can be reached from a source and its
 * reader reaches the output through kept edges (EAP-IG's `Graph.prune`, which repeats "drop nodes
 * without incoming or outgoing edges" to a fixed point; one forward and one backward sweep in
 * computation order reach the same fixed point).
 *
 * - Forward: `input` is alive; any other node is alive when a kept edge from an alive node enters
 *   one of its inputs (a kv group's k/v reader is an input of every head of its group). A head whose q, k and v inputs are all ablated computes only on ablated
 *   values, so its output edges carry nothing of the clean run.
 * - Backward: the logits are useful; a node is useful when a kept edge leads from it to an alive,
 *   useful node.
 * Without the input and logits nodes (the reference graph) the embedding feeds every reader and
 * every writer feeds the final residual, so no node dangles and the mask is returned as is.
 * Returns a new 0/1 mask.
 */
export function pruneDangling(graph: ModelGraph, mask: ArrayLike<number>): Uint8Array {
  const kept = Uint8Array.from(mask, (m) => (m ? 1 : 0));
  if (!graph.includeInputAndLogits) return kept;
  const nWriters = graph.writers.length;
  const readerNodes = readerNodeIndices(graph); // writer indices each reader feeds; nWriters = logits

  // Forward sweep: writers are in computation order and every edge goes from a lower writer index.
  const alive = new Uint8Array(nWriters + 1);
  alive[0] = 1; // input
  const readersOf: number[][] = Array.from({ length: nWriters + 1 }, () => []);
  for (let r = 0; r < graph.readers.length; r++) for (const node of readerNodes[r]!) readersOf[node]!.push(r);
  for (let w = 1; w <= nWriters; w++) {
    alive[w] = readersOf[w]!.some((r) => {
      const offset = graph.edgeOffset[r]!;
      for (let u = 0; u < graph.upstreamCount[r]!; u++) if (kept[offset + u] && alive[u]) return true;
      return false;
    })
      ? 1
      : 0;
  }
  // Backward sweep over writers in reverse computation order. A kv group's reader feeds each head
  // of its group: it leads somewhere useful when one of them is alive and useful.
  const useful = new Uint8Array(nWriters + 1);
  useful[nWriters] = 1; // logits
  const leadsOn = (r: number) => readerNodes[r]!.some((node) => alive[node] && useful[node]);
  for (let w = nWriters - 1; w >= 0; w--) {
    if (!alive[w]) continue;
    for (let r = 0; r < graph.readers.length && !useful[w]; r++) {
      if (w >= graph.upstreamCount[r]!) continue;
      if (kept[graph.edgeOffset[r]! + w] && leadsOn(r)) useful[w] = 1;
    }
  }
  const { writer, reader } = graph.edgeEndpoints();
  for (let e = 0; e < graph.edgeCount; e++) {
    if (!kept[e]) continue;
    const u = writer[e]!;
    if (!(alive[u] && useful[u] && leadsOn(reader[e]!))) kept[e] = 0;
  }
  return kept;
}

/** For each reader, the writer indices of the nodes it is an input of (one; a kv group's heads; the logits get nWriters). */
function readerNodeIndices(graph: ModelGraph): number[][] {
  return graph.readers.map((r) => {
    if (r.kind === 'head') return [graph.firstHeadWriter[r.layer]! + r.head];
    if (r.kind === 'kv') return r.heads.map((head) => graph.firstHeadWriter[r.layer]! + head);
    if (r.kind === 'mlp') return [graph.mlpWriter[r.layer]! + (r.mlpHead ?? 0)];
    return [graph.writers.length];
  });
}
