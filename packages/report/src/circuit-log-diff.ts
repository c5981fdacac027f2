/**
 * Two circuits of a training run's circuit log (ct.train.circuit: the kept edges at each logged
 * step) drawn as one: the later circuit in colour, the edges it gained marked new and the edges it
 * lost drawn as dropped (viz's circuit drawer, packages/viz/src/circuit.ts). The viewer's
 * "circuit across training" shows it.
 */
import { buildGraph, CircuitLogTable, ContractError, edgeNamesShape, parseEdgeName } from '@circuit-tuning/contracts';
import { readArrowTable } from '@circuit-tuning/runtime';
import { type CircuitEdgeRow, circuitDrawingSvg } from '@circuit-tuning/viz';

/** The steps a circuit log holds. */
export async function circuitLogSteps(path: string): Promise<number[]> {
  const { columns } = await readArrowTable(path, CircuitLogTable);
  return [...new Set(Array.from(columns.step as ArrayLike<number>))].sort((a, b) => a - b);
}

/**
 * The circuit of logged step `to` against that of step `from` (default: the first and the last
 * logged steps), on a graph of `shape` (the model's layers and heads; MLP heads as the edge names
 * say). Steps the log does not hold are an error naming the ones it does.
 */
export async function circuitLogDiff(
  path: string,
  shape: { nLayers: number; nHeads: number },
  options: { from?: number; to?: number; title: string },
): Promise<{ svg: string; from: number; to: number; added: number; dropped: number; kept: number }> {
  const { columns: c, numRows } = await readArrowTable(path, CircuitLogTable);
  const steps = [...new Set(Array.from(c.step as ArrayLike<number>))].sort((a, b) => a - b);
  if (steps.length === 0) throw new ContractError(`${path}: the circuit log holds no step`);
  const from = options.from ?? steps[0]!;
  const to = options.to ?? steps.at(-1)!;
  for (const step of [from, to]) {
    if (!steps.includes(step)) throw new ContractError(`${path}: no logged step ${step} (logged: ${steps.join(', ')})`);
  }
  const at = (step: number) => {
    const edges = new Map<string, { score: number; rank: number }>();
    for (let i = 0; i < numRows; i++) if (c.step[i] === step) edges.set(c.edge[i] as string, { score: c.score[i] as number, rank: c.rank[i] as number });
    return edges;
  };
  const [before, after] = [at(from), at(to)];
  const rows: CircuitEdgeRow[] = [];
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const parsed = parseEdgeName(name);
    if (parsed === undefined) throw new ContractError(`${path}: '${name}' is not an edge name`);
    const now = after.get(name);
    const then = before.get(name);
    const entry = (now ?? then)!;
    rows.push({
      name,
      writer: parsed.writer,
      reader: parsed.readerNode,
      qkv: parsed.qkv ?? '',
      score: entry.score,
      rank: entry.rank,
      inCircuit: now !== undefined,
      ...(now !== undefined && then === undefined ? { change: 'new' as const } : {}),
      ...(now === undefined ? { change: 'dropped' as const } : {}),
    });
  }
  // Every node of the model's graph, so that two drawings of one model line up.
  const { mlpHeads } = edgeNamesShape(rows.map((r) => r.name));
  const graph = buildGraph({ ...shape, ...(mlpHeads > 0 ? { mlpHeads } : {}) }, { includeInputAndLogits: true });
  const touched = new Set(rows.filter((r) => r.inCircuit).flatMap((r) => [r.writer, r.reader]));
  const nodes = [...graph.writers.map((w) => w.name), 'logits'].map((name) => ({ name, inCircuit: touched.has(name) }));
  const added = rows.filter((r) => r.change === 'new').length;
  const dropped = rows.filter((r) => r.change === 'dropped').length;
  const svg = circuitDrawingSvg(nodes, rows, {
    title: options.title,
    subtitle: [`step ${to} against step ${from}: ${after.size} edges, ${added} new, ${dropped} dropped`],
  });
  return { svg, from, to, added, dropped, kept: after.size - added };
}
