import { buildGraph } from '@circuit-tuning/contracts';
import { describe, expect, it } from 'vitest';
import { circuitFromMask } from '../circuit/selection';
import { fromEapIgJson, toEapIgJson } from './eap-ig-json';

/**
 * A reader that follows EAP-IG 2.x's `Graph.from_json` (src/eap/graph.py) rule by rule, raising
 * where Python would: every key of the top level, `Graph.from_model(cfg)` (n_layers, n_heads,
 * parallel_attn_mlp, d_model; nodes and edges in its order), then for every node but the logits
 * `g.nodes[name].in_graph = node_dict['in_graph']` (a KeyError for an unknown node, a TypeError for
 * a node that is not a dict), optional `score` / `neurons`, and for every edge
 * `g.edges[name].score = info['score']; g.edges[name].in_graph = info['in_graph']`.
 */
function eapIgFromJson(d: unknown): { nodes: Map<string, boolean>; edges: Map<string, { score: number; inGraph: boolean }>; nodeScores: boolean } {
  const assert = (ok: boolean, message: string) => {
    if (!ok) throw new Error(message);
  };
  assert(typeof d === 'object' && d !== null && ['cfg', 'nodes', 'edges'].every((k) => k in d), 'AssertionError: Bad input JSON format - Missing keys');
  const { cfg, nodes, edges } = d as { cfg: Record<string, unknown>; nodes: Record<string, unknown>; edges: Record<string, unknown> };
  for (const key of ['n_layers', 'n_heads', 'parallel_attn_mlp', 'd_model']) assert(key in cfg, `KeyError: '${key}'`);
  const nLayers = cfg.n_layers as number;
  const nHeads = cfg.n_heads as number;
  assert(Number.isInteger(nLayers) && Number.isInteger(nHeads) && Number.isInteger(cfg.d_model), 'TypeError: cfg sizes must be integers');
  assert(cfg.parallel_attn_mlp === false, 'this reader builds the sequential (non-parallel) graph only');
  // Graph.from_model: input; per layer the heads (each upstream node -> each head's q, k, v), then the MLP; the logits.
  const graphNodes = new Map<string, boolean>([['input', false]]);
  const graphEdges = new Map<string, { score: number; inGraph: boolean }>();
  const residual = ['input'];
  for (let layer = 0; layer < nLayers; layer++) {
    const heads = Array.from({ length: nHeads }, (_, h) => `a${layer}.h${h}`);
    for (const head of heads) graphNodes.set(head, false);
    graphNodes.set(`m${layer}`, false);
    for (const node of residual) for (const head of heads) for (const letter of 'qkv') graphEdges.set(`${node}->${head}<${letter}>`, { score: 0, inGraph: false });
    residual.push(...heads);
    for (const node of residual) graphEdges.set(`${node}->m${layer}`, { score: 0, inGraph: false });
    residual.push(`m${layer}`);
  }
  for (const node of residual) graphEdges.set(`${node}->logits`, { score: 0, inGraph: false });
  graphNodes.set('logits', true);
  let nodeScores = false;
  for (const [name, nodeDict] of Object.entries(nodes)) {
    if (name === 'logits') continue;
    assert(graphNodes.has(name), `KeyError: '${name}'`);
    assert(typeof nodeDict === 'object' && nodeDict !== null && !Array.isArray(nodeDict), `TypeError: '${typeof nodeDict}' object is not subscriptable`);
    const entry = nodeDict as Record<string, unknown>;
    assert('in_graph' in entry, "KeyError: 'in_graph'");
    assert(typeof entry.in_graph === 'boolean', `TypeError: in_graph of ${name} must be a bool`);
    graphNodes.set(name, entry.in_graph as boolean);
    if ('score' in entry) {
      nodeScores = true;
      assert(typeof entry.score === 'number', `TypeError: score of ${name} must be a number`);
    }
    if ('neurons' in entry) assert(Array.isArray(entry.neurons) && entry.neurons.length === cfg.d_model, `RuntimeError: neurons of ${name} must have d_model entries`);
  }
  for (const [name, info] of Object.entries(edges)) {
    const edge = graphEdges.get(name);
    assert(edge !== undefined, `KeyError: '${name}'`);
    const entry = info as Record<string, unknown>;
    assert('score' in entry && 'in_graph' in entry, `KeyError: 'score' or 'in_graph' of ${name}`);
    assert(typeof entry.score === 'number' && Number.isFinite(entry.score), `TypeError: score of ${name} must be a number, got ${JSON.stringify(entry.score)}`);
    assert(typeof entry.in_graph === 'boolean', `TypeError: in_graph of ${name} must be a bool`);
    graphEdges.set(name, { score: entry.score as number, inGraph: entry.in_graph as boolean });
  }
  return { nodes: graphNodes, edges: graphEdges, nodeScores };
}

describe("EAP-IG's JSON circuit format", () => {
  const graph = buildGraph({ nLayers: 2, nHeads: 3 });
  const scores = Float64Array.from({ length: graph.edgeCount }, (_, e) => Math.cos(e));
  const mask = Uint8Array.from({ length: graph.edgeCount }, (_, e) => (e % 3 === 0 ? 1 : 0));
  const circuit = circuitFromMask(graph, mask, { prune: false });

  it("round-trips through a reader written to EAP-IG 2.x's Graph.from_json rules (the default format)", () => {
    const json = JSON.parse(JSON.stringify(toEapIgJson(graph, scores, circuit, { dModel: 24 })));
    expect(json.nodes['a0.h0']).toEqual({ in_graph: circuit.nodes.includes('a0.h0') });
    const read = eapIgFromJson(json);
    expect(read.nodeScores).toBe(false);
    // EAP-IG's graph and ours have the same edges, and every score and membership survives.
    expect([...read.edges.keys()].sort()).toEqual(graph.edgeNames().sort());
    graph.edgeNames().forEach((name, e) => {
      expect(read.edges.get(name)).toEqual({ score: scores[e], inGraph: circuit.keep[e] === 1 });
    });
    for (const [name, inGraph] of read.nodes) expect(inGraph, name).toBe(name === 'logits' || circuit.nodes.includes(name));
    // And back onto our graph.
    const back = fromEapIgJson(graph, json);
    expect(Array.from(back.keep)).toEqual(Array.from(circuit.keep));
    // The older format (EAP-IG 0.1's boolean nodes) is what current EAP-IG cannot read.
    const old = JSON.parse(JSON.stringify(toEapIgJson(graph, scores, circuit, { dModel: 24, nodeFormat: 'bool' })));
    expect(() => eapIgFromJson(old)).toThrow(/TypeError: 'boolean' object is not subscriptable/);
    expect(Array.from(fromEapIgJson(graph, old).keep)).toEqual(Array.from(circuit.keep));
  });

  it('refuses to write a non-finite score (JSON would carry null, which EAP-IG cannot assign)', () => {
    const bad = Float64Array.from(scores);
    bad[3] = Number.NaN;
    expect(() => toEapIgJson(graph, bad, circuit, { dModel: 24 })).toThrow(new RegExp(`edge ${graph.edgeNames()[3]!.replace(/[.<>]/g, '\\$&')} has score NaN`));
  });

  it('writes cfg, every node as a boolean (EAP-IG 0.1 format) and every edge with score and in_graph', () => {
    const json = toEapIgJson(graph, scores, circuit, { dModel: 24, nodeFormat: 'bool' });
    expect(json.cfg).toEqual({ n_layers: 2, n_heads: 3, d_model: 24, parallel_attn_mlp: false });
    expect(Object.keys(json.nodes)).toEqual(['input', 'a0.h0', 'a0.h1', 'a0.h2', 'm0', 'a1.h0', 'a1.h1', 'a1.h2', 'm1', 'logits']);
    expect(json.nodes.logits).toBe(true);
    expect(Object.keys(json.edges).sort()).toEqual(graph.edgeNames().sort());
    // EAP-IG's insertion order: per layer, each upstream node to every head and letter.
    expect(Object.keys(json.edges).slice(0, 4)).toEqual(['input->a0.h0<q>', 'input->a0.h0<k>', 'input->a0.h0<v>', 'input->a0.h1<q>']);
    const e = graph.edgeIndex('a0.h1', 'a1.h2<k>');
    expect(json.edges['a0.h1->a1.h2<k>']).toEqual({ score: scores[e], in_graph: mask[e] === 1 });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('reads its own output back', () => {
    const json = JSON.parse(JSON.stringify(toEapIgJson(graph, scores, circuit, { dModel: 24 })));
    const back = fromEapIgJson(graph, json);
    expect(Array.from(back.scores)).toEqual(Array.from(scores));
    expect(Array.from(back.keep)).toEqual(Array.from(circuit.keep));
  });

  it('writes a reference-graph circuit with its implicit input and logits edges present', () => {
    const reference = buildGraph({ nLayers: 2, nHeads: 3 }, { includeInputAndLogits: false });
    const refCircuit = circuitFromMask(reference, new Uint8Array(reference.edgeCount), { prune: false });
    const json = toEapIgJson(reference, new Float64Array(reference.edgeCount), refCircuit, { dModel: 24, nodeFormat: 'bool' });
    expect(Object.keys(json.edges)).toHaveLength(graph.edgeCount);
    expect(json.edges['input->a1.h0<v>']).toEqual({ score: 0, in_graph: true });
    expect(json.edges['m1->logits']).toEqual({ score: 0, in_graph: true });
    expect(json.edges['a0.h0->m1']).toEqual({ score: 0, in_graph: false });
    expect(json.nodes.input).toBe(true);
  });

  it('rejects a circuit for another shape or a file that is not one', () => {
    const json = toEapIgJson(graph, scores, circuit, { dModel: 24 });
    expect(() => fromEapIgJson(buildGraph({ nLayers: 3, nHeads: 3 }), json, 'c.json')).toThrow(/c.json: the circuit is for 2 layers × 3 heads/);
    expect(() => fromEapIgJson(graph, { nodes: {} }, 'x.json')).toThrow(/x.json: not an EAP-IG circuit JSON/);
  });

  it('writes a graph EAP-IG has no names for (kv groups, MLP heads) with its own names, and reads it back', () => {
    for (const shape of [{ kvGroups: 2 }, { mlpHeads: 3 }, { kvGroups: 1, mlpHeads: 2 }]) {
      const graph = buildGraph({ nLayers: 2, nHeads: 4, ...shape });
      const scores = Float64Array.from({ length: graph.edgeCount }, (_, e) => Math.sin(e + 1));
      const mask = Uint8Array.from({ length: graph.edgeCount }, (_, e) => (e % 3 === 0 ? 1 : 0));
      const circuit = circuitFromMask(graph, mask, { prune: false });
      const json = toEapIgJson(graph, scores, circuit, { dModel: 16 });
      expect(Object.keys(json.edges)).toEqual(graph.edgeNames());
      expect(json.cfg).toMatchObject({ n_layers: 2, n_heads: 4, ...('kvGroups' in shape ? { kv_groups: shape.kvGroups } : {}), ...('mlpHeads' in shape ? { mlp_heads: shape.mlpHeads } : {}) });
      const back = fromEapIgJson(graph, JSON.parse(JSON.stringify(json)));
      expect(Array.from(back.scores)).toEqual(Array.from(scores));
      expect(Array.from(back.keep)).toEqual(Array.from(mask));
      // Not onto the per-head graph, and not the per-head JSON onto this graph.
      expect(() => fromEapIgJson(buildGraph({ nLayers: 2, nHeads: 4 }), json, 'g.json')).toThrow(/g.json: the circuit is for a graph with/);
    }
  });
});
