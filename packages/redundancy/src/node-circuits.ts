import { headName, type ModelGraph } from '@circuit-tuning/contracts';
import { allNodeNames, edgeOrder, nodeScores } from '@circuit-tuning/discovery';
import type { Rng } from '@circuit-tuning/runtime';

/**
 * Node-level circuits. The nodes that can be redundant are the components: every attention head
 * and every MLP. The input and the logits are the circuit's interface and always stay, so a node
 * count N here counts heads and MLPs only (in either graph), and N_total = n_layers · (n_heads + 1).
 */
export function componentNodes(graph: ModelGraph): string[] {
  return graph.writers.filter((w) => w.kind !== 'input').map((w) => w.name);
}

/** Number of component nodes (heads and MLPs) among node names. */
export function componentCount(nodes: readonly string[]): number {
  let n = 0;
  for (const name of nodes) if (name !== 'input' && name !== 'logits') n++;
  return n;
}

/**
 * Component nodes ranked by |node score| (the sum of a node's outgoing edge scores: to first order,
 * the effect on M of ablating the node's output everywhere; ties by graph order).
 */
export function rankNodes(graph: ModelGraph, edgeScores: ArrayLike<number>): { order: string[]; scores: Map<string, number> } {
  const { names, scores } = nodeScores(graph, edgeScores);
  const byName = new Map(names.map((name, i) => [name, scores[i]!]));
  const components = componentNodes(graph);
  const order = edgeOrder(components.map((name) => Math.abs(byName.get(name) ?? 0)));
  return { order: Array.from(order, (i) => components[i]!), scores: byName };
}

/** A random ranking of the component nodes (the node curve's baseline). */
export function randomNodeOrder(graph: ModelGraph, rng: Rng): string[] {
  return rng.shuffle(componentNodes(graph));
}

/**
 * The edge mask of the circuit made of a set of component nodes: every edge whose writer is a kept
 * node (or the input) and whose reader belongs to a kept node (or is the logits).
 */
export function nodeCircuitMask(graph: ModelGraph, kept: ReadonlySet<string>): Uint8Array {
  const { writer, reader } = graph.edgeEndpoints();
  const mask = new Uint8Array(graph.edgeCount);
  for (let e = 0; e < graph.edgeCount; e++) {
    const w = graph.writers[writer[e]!]!;
    const r = graph.readers[reader[e]!]!;
    const from = w.kind === 'input' || kept.has(w.name);
    // A kv group's k/v reader belongs to every head of its group (grouped-query attention).
    const to = r.kind === 'logits' || (r.kind === 'kv' ? r.heads.some((head) => kept.has(headName(r.layer, head))) : kept.has(r.node));
    if (from && to) mask[e] = 1;
  }
  return mask;
}

/** Every node of the graph in `allNodeNames` order, for per-node tables. */
export const graphNodes = (graph: ModelGraph): string[] => allNodeNames(graph);
