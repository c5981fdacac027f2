import { ContractError, edgeName, headName, headReaderName, mlpName, type ModelGraph, qkvLetters } from '@circuit-tuning/contracts';
import { z } from 'zod';
import type { Circuit } from '../circuit/selection';

/**
 * EAP-IG's JSON circuit format (`Graph.to_json` / `Graph.from_json` of EAP-IG, Hanna et al. 2024),
 * so a circuit found here loads in Python and back:
 *
 *   { "cfg":   { "n_layers", "n_heads", "d_model", "parallel_attn_mlp": false },
 *     "nodes": { "input": { "in_graph": true }, "a0.h0": { "in_graph": false }, …, "logits": { "in_graph": true } },
 *     "edges": { "input->a0.h0<q>": { "score": 0.12, "in_graph": true }, … } }
 *
 * Two node formats, by the EAP-IG version that reads them (EAP_IG_NODE_FORMATS):
 * - `object` (the default): `{ "in_graph": bool }` per node. EAP-IG 2.x (the `src/eap/graph.py`
 *   layout, package version 2.0.0) writes it, and its `Graph.from_json` reads `node_dict['in_graph']`
 *   for every node but the logits, so a bare boolean fails there (`'bool' object is not
 *   subscriptable`); it builds the graph with `Graph.from_model(cfg)`, which needs `n_layers`,
 *   `n_heads`, `parallel_attn_mlp` and `d_model`, then looks up every node and edge by name (an
 *   unknown name is a KeyError) and assigns each edge's `score` (a number, never null) and
 *   `in_graph`. MIB's circuit track loads circuits with the same rules.
 * - `bool`: a boolean per node, what EAP-IG 0.1 (`eap/graph.py` at the top level, before the
 *   `src/` layout) writes and reads (`g.nodes[name].in_graph = in_graph`).
 *
 * A graph EAP-IG has no names for (k/v readers per kv group, MLP heads) is written with its own
 * node and edge names and `kv_groups` / `mlp_heads` in cfg: fromEapIgJson reads it back, EAP-IG
 * does not.
 *
 * The logits node is always in the graph in EAP-IG. EAP-IG's graph always has the input and logits
 * nodes: a circuit on the reference graph (without them) is written with every input->… and
 * …->logits edge in the graph and score 0, which is what our reference graph means (the embedding
 * always feeds every reader, every writer always feeds the final residual).
 */
export const EAP_IG_NODE_FORMATS = {
  object: "{ in_graph } per node: EAP-IG 2.x (src/eap/graph.py, Graph.from_json reads node_dict['in_graph']) and MIB",
  bool: 'a boolean per node: EAP-IG 0.1 (eap/graph.py, before the src/ layout)',
} as const;
export type EapIgNodeFormat = keyof typeof EAP_IG_NODE_FORMATS;
/** The format current EAP-IG reads. */
export const DEFAULT_EAP_IG_NODE_FORMAT: EapIgNodeFormat = 'object';

export interface EapIgJson {
  cfg: { n_layers: number; n_heads: number; d_model: number; parallel_attn_mlp: boolean; kv_groups?: number; mlp_heads?: number };
  nodes: Record<string, boolean | { in_graph: boolean; score?: number }>;
  edges: Record<string, { score: number; in_graph: boolean }>;
}

export const eapIgJsonSchema = z.object({
  cfg: z.looseObject({ n_layers: z.number().int().positive(), n_heads: z.number().int().positive(), d_model: z.number().int().positive(), parallel_attn_mlp: z.boolean().default(false) }),
  nodes: z.record(z.string(), z.union([z.boolean(), z.looseObject({ in_graph: z.boolean(), score: z.number().optional() })])),
  edges: z.record(z.string(), z.looseObject({ score: z.number(), in_graph: z.boolean() })),
});

export function toEapIgJson(
  graph: ModelGraph,
  scores: ArrayLike<number>,
  circuit: Pick<Circuit, 'keep' | 'nodes'>,
  options: { dModel: number; nodeFormat?: EapIgNodeFormat },
): EapIgJson {
  const { nLayers, nHeads } = graph.shape;
  const inCircuit = new Set(circuit.nodes);
  const full = graph.includeInputAndLogits;
  const nodeValue = (inGraph: boolean) => ((options.nodeFormat ?? DEFAULT_EAP_IG_NODE_FORMAT) === 'object' ? { in_graph: inGraph } : inGraph);
  const nodes: EapIgJson['nodes'] = {};
  const edges: EapIgJson['edges'] = {};
  const nodeIn = (name: string) => (full ? inCircuit.has(name) : name === 'input' || inCircuit.has(name));
  if (graph.shape.kvGroups !== undefined || graph.shape.mlpHeads !== undefined) {
    // EAP-IG's graph has no k/v readers per kv group (a1.g0<k>) and no MLP heads (m2.n5): such a
    // circuit is written with its own graph's node and edge names, in graph order, so that
    // fromEapIgJson reads it back (EAP-IG's Graph.from_json does not: its names are per head and
    // per whole MLP). Reading the per-head names into it would put every one of them at score 0.
    for (const name of [...graph.writers.map((w) => w.name), ...(full ? ['logits'] : [])]) nodes[name] = nodeValue(name === 'logits' || nodeIn(name));
    graph.edgeNames().forEach((name, e) => {
      if (!Number.isFinite(scores[e]!)) throw new ContractError(`edge ${name} has score ${scores[e]}: an EAP-IG circuit needs a finite score for every edge`);
      edges[name] = { score: scores[e]!, in_graph: circuit.keep[e] === 1 };
    });
    const extra = { ...(graph.shape.kvGroups === undefined ? {} : { kv_groups: graph.shape.kvGroups }), ...(graph.shape.mlpHeads === undefined ? {} : { mlp_heads: graph.shape.mlpHeads }) };
    return { cfg: { n_layers: nLayers, n_heads: nHeads, d_model: options.dModel, parallel_attn_mlp: false, ...extra }, nodes, edges };
  }
  // EAP-IG's node and edge order: input, then per layer the heads and the MLP; logits last.
  const writerNames = ['input'];
  nodes.input = nodeValue(nodeIn('input'));
  const names = graph.edgeNames();
  const score = new Map<string, number>();
  names.forEach((name, e) => {
    score.set(name, e);
  });
  const addEdge = (writer: string, reader: string) => {
    const name = edgeName(writer, reader);
    const e = score.get(name);
    // Edges absent from the reference graph (from input, to logits) are always present there.
    if (e !== undefined && !Number.isFinite(scores[e]!)) {
      // JSON has no NaN (it would be written as null, which EAP-IG cannot assign to a score).
      throw new ContractError(`edge ${name} has score ${scores[e]}: an EAP-IG circuit needs a finite score for every edge`);
    }
    edges[name] = e === undefined ? { score: 0, in_graph: true } : { score: scores[e]!, in_graph: circuit.keep[e] === 1 };
  };
  for (let layer = 0; layer < nLayers; layer++) {
    for (let head = 0; head < nHeads; head++) nodes[headName(layer, head)] = nodeValue(nodeIn(headName(layer, head)));
    for (const writer of writerNames) {
      for (let head = 0; head < nHeads; head++) for (const letter of qkvLetters) addEdge(writer, headReaderName(layer, head, letter));
    }
    for (let head = 0; head < nHeads; head++) writerNames.push(headName(layer, head));
    nodes[mlpName(layer)] = nodeValue(nodeIn(mlpName(layer)));
    for (const writer of writerNames) addEdge(writer, mlpName(layer));
    writerNames.push(mlpName(layer));
  }
  nodes.logits = nodeValue(true);
  for (const writer of writerNames) addEdge(writer, 'logits');
  return { cfg: { n_layers: nLayers, n_heads: nHeads, d_model: options.dModel, parallel_attn_mlp: false }, nodes, edges };
}

/** Reads an EAP-IG JSON circuit back onto a graph: scores and the in-graph mask in edge order. */
export function fromEapIgJson(graph: ModelGraph, json: unknown, source = '<json>'): { scores: Float64Array; keep: Float32Array } {
  const parsed = eapIgJsonSchema.safeParse(json);
  if (!parsed.success) throw new ContractError(`${source}: not an EAP-IG circuit JSON (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  const { cfg, edges } = parsed.data;
  if (cfg.n_layers !== graph.shape.nLayers || cfg.n_heads !== graph.shape.nHeads) {
    throw new ContractError(`${source}: the circuit is for ${cfg.n_layers} layers × ${cfg.n_heads} heads, the graph has ${graph.shape.nLayers} × ${graph.shape.nHeads}`);
  }
  if (cfg.parallel_attn_mlp) throw new ContractError(`${source}: parallel attention/MLP graphs are not supported`);
  for (const [key, ours, what] of [['kv_groups', graph.shape.kvGroups, 'kv groups'], ['mlp_heads', graph.shape.mlpHeads, 'MLP heads']] as const) {
    const theirs = cfg[key] as number | undefined;
    if (theirs !== ours) {
      throw new ContractError(`${source}: the circuit is for a graph with ${theirs ?? 'no'} ${what}, the graph has ${ours ?? 'none'}`);
    }
  }
  const scores = new Float64Array(graph.edgeCount);
  const keep = new Float32Array(graph.edgeCount);
  graph.edgeNames().forEach((name, e) => {
    const edge = edges[name];
    if (edge === undefined) throw new ContractError(`${source}: edge ${name} is missing`);
    scores[e] = edge.score;
    keep[e] = edge.in_graph ? 1 : 0;
  });
  return { scores, keep };
}
