import type { ColumnsInputOf, ModelGraph } from '@circuit-tuning/contracts';
import { parseNodeName } from '@circuit-tuning/contracts';
import type { Circuit } from '../circuit/selection';
import { nodeScores } from '../circuit/node-scores';
import type { DiscoveryEdgesTable, DiscoveryNodesTable } from '../tables';

/** Columns of the `edges` table for scores and a selected circuit. */
export function edgeColumns(graph: ModelGraph, scores: ArrayLike<number>, circuit: Circuit): ColumnsInputOf<typeof DiscoveryEdgesTable> {
  const { writer, reader } = graph.edgeEndpoints();
  const n = graph.edgeCount;
  const writerName: string[] = new Array(n);
  const readerNode: string[] = new Array(n);
  const qkv: string[] = new Array(n);
  const writerLayer = new Int32Array(n);
  const readerLayer = new Int32Array(n);
  const inCircuit: boolean[] = new Array(n);
  for (let e = 0; e < n; e++) {
    const w = graph.writers[writer[e]!]!;
    const r = graph.readers[reader[e]!]!;
    writerName[e] = w.name;
    readerNode[e] = r.node;
    qkv[e] = r.kind === 'head' || r.kind === 'kv' ? r.qkv : '';
    writerLayer[e] = w.layer;
    readerLayer[e] = r.layer;
    inCircuit[e] = circuit.keep[e] === 1;
  }
  return {
    name: graph.edgeNames(),
    writer: writerName,
    reader: readerNode,
    qkv,
    writer_layer: writerLayer,
    reader_layer: readerLayer,
    score: Float32Array.from(scores),
    selection_score: Float32Array.from(circuit.selectionScores),
    in_circuit: inCircuit,
    rank: circuit.rank,
  };
}

/** Columns of the `nodes` table. */
export function nodeColumns(graph: ModelGraph, scores: ArrayLike<number>, circuit: Circuit): ColumnsInputOf<typeof DiscoveryNodesTable> {
  const { names, scores: values } = nodeScores(graph, scores);
  const inCircuit = new Set(circuit.nodes);
  const kinds: string[] = [];
  const layers = new Int32Array(names.length);
  const heads = new Int32Array(names.length).fill(-1);
  names.forEach((name, i) => {
    const parsed = parseNodeName(name)!;
    kinds.push(parsed.kind);
    layers[i] = parsed.kind === 'input' ? -1 : parsed.kind === 'logits' ? graph.shape.nLayers : parsed.layer;
    if (parsed.kind === 'head') heads[i] = parsed.head;
  });
  return {
    name: names,
    kind: kinds,
    layer: layers,
    head: heads,
    score: Float32Array.from(values),
    in_circuit: names.map((name) => inCircuit.has(name)),
  };
}
