/**
 * The one circuit drawer: the stages' figures (discovery, redundancy, evaluation), the run report
 * and the viewer all draw with circuitDrawingSvg, from rows of nodes and edges (as a discovery run's
 * nodes.arrow and edges.arrow hold them); circuitSvg builds those rows from the model's graph and
 * a circuit. Every node and edge carries `data-name` / `data-score` and a `<title>`, so hovering
 * shows its score (a tooltip in the viewer, the browser's title elsewhere). Deterministic: the
 * same rows give the same bytes. Edges also carry `data-rank`, `data-writer` and `data-reader`, so a
 * page can show the top N of them or the edges of one node (the viewer's circuit explorer).
 */
import { type ModelGraph, parseNodeName, type QkvLetter } from '@circuit-tuning/contracts';
import { escapeXml, formatValue } from './svg';

export interface CircuitNodeRow {
  /** `input`, `logits`, `a3.h1`, `m2` or an MLP head `m2.n5`: the name places the node. */
  name: string;
  /** The node's score, when there is one (a discovery run's nodes table). */
  score?: number | null;
  inCircuit: boolean;
}

export interface CircuitEdgeRow {
  name: string;
  writer: string;
  /** The reader's node (`a3.h2`, `m1`, `logits`). */
  reader: string;
  /** Which input of a head the edge enters; '' for an MLP or the logits. */
  qkv: QkvLetter | '';
  score: number;
  inCircuit: boolean;
  /** 0 = the strongest; the best-ranked `maxEdges` circuit edges are drawn. */
  rank: number;
  /**
   * Against an earlier circuit: 'new' edges (not in it) are drawn with a green halo, 'dropped' ones
   * (in it, not in this one; inCircuit false) as faint grey dashes.
   */
  change?: 'new' | 'dropped';
}

export interface CircuitDrawingOptions {
  /** A line above the drawing (model, task, method…). */
  title?: string;
  /** Smaller lines under the title (metric, faithfulness…); at most two are shown. */
  subtitle?: string | readonly string[];
  /** At most this many circuit edges are drawn, the highest-ranked ones (default 400). */
  maxEdges?: number;
}

const BOX_W = 58;
const BOX_H = 22;
const COL = 74;
/** Columns of an MLP's heads are narrower: a GPT-2 small MLP has 48 of width 64. */
const MLP_HEAD_COL = 30;
const ROW = 64;
const MARGIN = 40;
const HEADER = 104;
/** Rough width of a character at the 11px label size, to size the canvas to its text. */
const CHAR_W = 6;
const FONT = "'DejaVu Sans', Arial, Helvetica, sans-serif";

/**
 * Edge colours: the hue says the sign of the score M(edge ablated) − M(clean) (blue: negative,
 * ablating the edge lowers M; red: positive), the shade says which input of a head the edge enters;
 * k and v edges are also dashed.
 */
const COLOURS: Record<'negative' | 'positive', Record<QkvLetter | 'other', string>> = {
  negative: { q: '#173f8a', k: '#2b72c9', v: '#5fa8e6', other: '#1f5fae' },
  positive: { q: '#8f1414', k: '#cf3b2a', v: '#ef8a68', other: '#b8261c' },
};
const DASH: Record<QkvLetter | 'other', string | undefined> = { q: undefined, k: '6 3', v: '2 2.5', other: undefined };
const PORT_OFFSET: Record<QkvLetter, number> = { q: -18, k: 0, v: 18 };

/**
 * A layered drawing of a circuit: the input at the bottom, per layer a row of heads and above it
 * the MLP (or a row of its heads), the logits on top. Every node has a fixed place, so drawings of
 * two circuits of the same model line up; nodes outside the circuit are faint. Edge width grows
 * with |score|; edges into a head end on its q, k or v port; a long skip within the centre column
 * arcs out to one side so it stays visible and hoverable.
 */
export function circuitDrawingSvg(nodes: readonly CircuitNodeRow[], edges: readonly CircuitEdgeRow[], options: CircuitDrawingOptions = {}): string {
  const parsed = nodes.map((node) => ({ node, at: parseNodeName(node.name) }));
  const unknown = parsed.find((p) => p.at === undefined);
  if (unknown !== undefined) throw new Error(`circuit drawing: ${JSON.stringify(unknown.node.name)} is not a node name (input, logits, aL.hH, mL, mL.nK)`);
  const layered = parsed.map((p) => p.at!).filter((at) => at.kind === 'head' || at.kind === 'mlp');
  const nLayers = Math.max(0, ...layered.map((at) => (at as { layer: number }).layer + 1));
  const nHeads = Math.max(1, ...layered.map((at) => (at.kind === 'head' ? at.head + 1 : 0)));
  const nMlpHeads = Math.max(0, ...layered.map((at) => (at.kind === 'mlp' && at.mlpHead !== undefined ? at.mlpHead + 1 : 0)));
  const subtitle = typeof options.subtitle === 'string' ? [options.subtitle] : (options.subtitle ?? []);
  const longest = Math.max((options.title ?? '').length * 1.45, ...subtitle.map((l) => l.length), LEGEND_CHARS);
  const rowWidth = Math.max((nHeads - 1) * COL, (nMlpHeads - 1) * MLP_HEAD_COL);
  const width = Math.ceil(Math.max(2 * MARGIN + rowWidth + BOX_W, MARGIN + longest * CHAR_W));
  const rows = 2 * nLayers + 2;
  const height = HEADER + MARGIN + (rows - 1) * ROW + BOX_H + MARGIN;
  const bottom = height - MARGIN - BOX_H / 2;
  const centre = width / 2;

  const places = new Map<string, { x: number; y: number; boxW: number }>();
  for (const { node, at } of parsed) {
    if (at === undefined) continue;
    if (at.kind === 'input') places.set(node.name, { x: centre, y: bottom, boxW: BOX_W });
    else if (at.kind === 'logits') places.set(node.name, { x: centre, y: bottom - (rows - 1) * ROW, boxW: BOX_W });
    else if (at.kind === 'head') places.set(node.name, { x: centre + (at.head - (nHeads - 1) / 2) * COL, y: bottom - (2 * at.layer + 1) * ROW, boxW: BOX_W });
    else if (at.kind === 'kv') continue; // a reader only: placed below, from the edges
    else if (at.mlpHead === undefined) places.set(node.name, { x: centre, y: bottom - (2 * at.layer + 2) * ROW, boxW: BOX_W });
    else places.set(node.name, { x: centre + (at.mlpHead - (nMlpHeads - 1) / 2) * MLP_HEAD_COL, y: bottom - (2 * at.layer + 2) * ROW, boxW: MLP_HEAD_COL - 4 });
  }

  // The k/v readers of kv groups (`a3.g1`, grouped-query attention) are no boxes: their edges end
  // on the k or v port at the middle of the group's heads.
  const kvGroups = edges.map((e) => parseNodeName(e.reader)).filter((at) => at?.kind === 'kv') as { kind: 'kv'; layer: number; group: number }[];
  const nKvGroups = Math.max(0, ...kvGroups.map((at) => at.group + 1));
  for (const at of kvGroups) {
    const size = nHeads / nKvGroups;
    places.set(`a${at.layer}.g${at.group}`, { x: centre + ((at.group + 0.5) * size - 0.5 - (nHeads - 1) / 2) * COL, y: bottom - (2 * at.layer + 1) * ROW, boxW: BOX_W });
  }

  const drawn = edges
    .filter((e) => e.inCircuit)
    .sort((a, b) => a.rank - b.rank)
    .slice(0, options.maxEdges ?? 400);
  const dropped = edges.filter((e) => !e.inCircuit && e.change === 'dropped');
  const changes = dropped.length > 0 || drawn.some((e) => e.change === 'new');
  const maxAbs = drawn.reduce((m, e) => Math.max(m, Math.abs(e.score)), 0);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="circuit" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN / 2}" y="24" font-size="15" font-weight="bold">${escapeXml(options.title ?? 'circuit')}</text>`,
  ];
  subtitle.slice(0, 2).forEach((line, i) => {
    out.push(`<text x="${MARGIN / 2}" y="${44 + 16 * i}" font-size="11" fill="#444444">${escapeXml(line)}</text>`);
  });
  legend(out, changes);

  /** The curve of an edge: from the writer's top to the reader's port. */
  const curve = (edge: CircuitEdgeRow): string => {
    const from = places.get(edge.writer);
    const to = places.get(edge.reader);
    if (from === undefined || to === undefined) throw new Error(`circuit drawing: edge ${edge.name} joins a node that is not in the nodes (${edge.writer}, ${edge.reader})`);
    const letter: QkvLetter | 'other' = edge.qkv === '' ? 'other' : edge.qkv;
    const x1 = from.x;
    const y1 = from.y - BOX_H / 2;
    const x2 = to.x + (letter === 'other' ? 0 : PORT_OFFSET[letter]);
    const y2 = to.y + BOX_H / 2;
    const bend = Math.max(18, (y1 - y2) / 2);
    // Edges within the centre column (input, MLPs, logits) would lie on top of each other: a
    // longer skip arcs further out, alternating sides.
    const dx = Math.abs(x1 - x2) < 1 && y1 - y2 > ROW * 1.5 ? (edge.rank % 2 === 0 ? 1 : -1) * (10 + 0.22 * (y1 - y2)) : 0;
    return `M${f(x1)} ${f(y1)} C${f(x1 + dx)} ${f(y1 - bend)} ${f(x2 + dx)} ${f(y2 + bend)} ${f(x2)} ${f(y2)}`;
  };

  out.push('<g class="edges">');
  for (const edge of dropped) {
    out.push(
      `<path class="edge dropped" data-name="${escapeXml(edge.name)}" data-score="${edge.score}" d="${curve(edge)}" fill="none" stroke="#9a9a9a" stroke-width="1.2" stroke-opacity="0.7" stroke-dasharray="3 3"><title>${escapeXml(edge.name)}: dropped since the earlier circuit</title></path>`,
    );
  }
  // Weakest first, so the strongest edges are drawn on top.
  for (const edge of [...drawn].reverse()) {
    const letter: QkvLetter | 'other' = edge.qkv === '' ? 'other' : edge.qkv;
    const colour = COLOURS[edge.score <= 0 ? 'negative' : 'positive'][letter];
    const strokeWidth = 0.6 + (maxAbs > 0 ? (4.4 * Math.abs(edge.score)) / maxAbs : 0);
    const dash = DASH[letter] === undefined ? '' : ` stroke-dasharray="${DASH[letter]}"`;
    const d = curve(edge);
    if (edge.change === 'new') out.push(`<path class="halo" d="${d}" fill="none" stroke="${NEW_HALO}" stroke-width="${f(strokeWidth + 6)}" stroke-opacity="0.35"/>`);
    out.push(
      `<path class="edge" data-name="${escapeXml(edge.name)}" data-score="${edge.score}" data-rank="${edge.rank}" data-writer="${escapeXml(edge.writer)}" data-reader="${escapeXml(edge.reader)}"${edge.change === 'new' ? ' data-change="new"' : ''} d="${d}" fill="none" stroke="${colour}" stroke-width="${f(strokeWidth)}" stroke-opacity="0.8"${dash}><title>${escapeXml(edge.name)}: score ${formatValue(edge.score)} (rank ${edge.rank})</title></path>`,
    );
  }
  out.push('</g>', '<g class="nodes">');
  for (const { node, at } of parsed) {
    const place = places.get(node.name)!;
    const on = node.inCircuit;
    const fill = !on ? '#ffffff' : at!.kind === 'head' ? '#fde9b8' : at!.kind === 'mlp' ? '#cfe8cf' : '#e3e3f3';
    const hasScore = node.score !== undefined && node.score !== null;
    const label = place.boxW < BOX_W ? '' : escapeXml(node.name);
    out.push(
      `<g class="node" data-name="${escapeXml(node.name)}"${hasScore ? ` data-score="${node.score}"` : ''} data-in-circuit="${on ? 1 : 0}">` +
        `<rect x="${f(place.x - place.boxW / 2)}" y="${f(place.y - BOX_H / 2)}" width="${place.boxW}" height="${BOX_H}" rx="5" fill="${fill}" stroke="${on ? '#333333' : '#d0d0d0'}" stroke-width="${on ? 1.2 : 0.8}"/>` +
        `<text x="${f(place.x)}" y="${f(place.y + 4)}" font-size="11" text-anchor="middle" fill="${on ? '#111111' : '#b8b8b8'}">${label}</text>` +
        `<title>${escapeXml(node.name)}${hasScore ? `: score ${formatValue(node.score)}` : ''}${on ? ' (in the circuit)' : ''}</title></g>`,
    );
  }
  out.push('</g>');
  if (!parsed.some((p) => p.at?.kind === 'input')) {
    out.push(`<text x="${MARGIN / 2}" y="${height - 12}" font-size="10" fill="#666666">reference graph: the embedding feeds every reader and every writer feeds the logits</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * A circuit of a model's graph drawn by circuitDrawingSvg: every node of the graph (the circuit's
 * in colour), the kept edges with their scores and ranks.
 */
export function circuitSvg(
  graph: ModelGraph,
  scores: ArrayLike<number>,
  circuit: { keep: ArrayLike<number>; rank: ArrayLike<number>; nodes: readonly string[] },
  options: CircuitDrawingOptions & { previous?: { keep: ArrayLike<number> } } = {},
): string {
  const inCircuit = new Set(circuit.nodes);
  const names = [...graph.writers.map((w) => w.name), ...(graph.includeInputAndLogits ? ['logits'] : [])];
  const nodes = names.map((name) => ({ name, inCircuit: inCircuit.has(name) }));
  const { writer, reader } = graph.edgeEndpoints();
  const edgeNames = graph.edgeNames();
  const edges: CircuitEdgeRow[] = [];
  const before = options.previous?.keep;
  for (let e = 0; e < graph.edgeCount; e++) {
    const now = circuit.keep[e] === 1;
    const then = before !== undefined && before[e] === 1;
    if (!now && !then) continue;
    const r = graph.readers[reader[e]!]!;
    const change = before === undefined || now === then ? undefined : now ? 'new' : 'dropped';
    edges.push({
      name: edgeNames[e]!,
      writer: graph.writers[writer[e]!]!.name,
      reader: r.node,
      qkv: r.kind === 'head' || r.kind === 'kv' ? r.qkv : '',
      score: scores[e]!,
      inCircuit: now,
      rank: Number(circuit.rank[e]),
      ...(change === undefined ? {} : { change }),
    });
  }
  return circuitDrawingSvg(nodes, edges, options);
}

const LEGEND: [string, keyof typeof DASH, 'negative' | 'positive'][] = [
  ['score < 0 (ablating lowers M)', 'other', 'negative'],
  ['score > 0 (ablating raises M)', 'other', 'positive'],
  ['into q', 'q', 'negative'],
  ['into k', 'k', 'negative'],
  ['into v', 'v', 'negative'],
];
const LEGEND_CHARS = LEGEND.reduce((n, [label]) => n + label.length + 8, 0);
const NEW_HALO = '#2ca02c';

/** One line of legend items under the subtitle (and, against an earlier circuit, what is new and dropped). */
function legend(out: string[], changes: boolean): void {
  let x = MARGIN / 2;
  const y = 84;
  const item = (label: string, line: string) => {
    out.push(line, `<text x="${f(x + 30)}" y="${y + 4}" font-size="11" fill="#333333">${escapeXml(label)}</text>`);
    x += 30 + label.length * CHAR_W + 20;
  };
  for (const [label, letter, sign] of LEGEND) {
    const dash = DASH[letter];
    item(label, `<line x1="${f(x)}" y1="${y}" x2="${f(x + 24)}" y2="${y}" stroke="${COLOURS[sign][letter]}" stroke-width="2.5"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
  }
  if (!changes) return;
  item('new', `<line x1="${f(x)}" y1="${y}" x2="${f(x + 24)}" y2="${y}" stroke="${NEW_HALO}" stroke-opacity="0.35" stroke-width="8"/>`);
  item('dropped', `<line x1="${f(x)}" y1="${y}" x2="${f(x + 24)}" y2="${y}" stroke="#9a9a9a" stroke-width="1.2" stroke-dasharray="3 3"/>`);
}

const f = (x: number) => (Math.round(x * 10) / 10).toString();
