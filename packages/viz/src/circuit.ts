import type { ModelGraph, QkvLetter } from '@circuit-tuning/contracts';
import { escapeXml } from './svg';

export interface DrawOptions {
  /** A line above the drawing (model, task, method…). */
  title?: string;
  /** Smaller lines under the title (metric, faithfulness…). */
  subtitle?: string[];
  /** At most this many circuit edges are drawn, the highest-ranked ones (default 400). */
  maxEdges?: number;
}

const BOX_W = 58;
const BOX_H = 22;
const COL = 74;
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

interface Place {
  x: number;
  y: number;
}

/**
 * A layered drawing of a circuit: the input at the bottom, per layer a row of heads and above it
 * the MLP, the logits on top. Every node has a fixed place (so drawings of two circuits of the
 * same model line up); nodes outside the circuit are faint. Edge width grows with |score|; edges
 * into a head end on its q, k or v port.
 */
export function circuitSvg(
  graph: ModelGraph,
  scores: ArrayLike<number>,
  circuit: { keep: ArrayLike<number>; rank: ArrayLike<number>; nodes: readonly string[] },
  options: DrawOptions = {},
): string {
  const { nLayers, nHeads } = graph.shape;
  const longest = Math.max((options.title ?? '').length * 1.45, ...(options.subtitle ?? []).map((l) => l.length), LEGEND_CHARS);
  const width = Math.ceil(Math.max(2 * MARGIN + (nHeads - 1) * COL + BOX_W, MARGIN + longest * CHAR_W));
  const rows = 2 * nLayers + 2;
  const height = HEADER + MARGIN + (rows - 1) * ROW + BOX_H + MARGIN;
  const bottom = height - MARGIN - BOX_H / 2;
  const centre = width / 2;
  const headX = (head: number) => centre + (head - (nHeads - 1) / 2) * COL;

  const places = new Map<string, Place>();
  places.set('input', { x: centre, y: bottom });
  for (let layer = 0; layer < nLayers; layer++) {
    for (let head = 0; head < nHeads; head++) places.set(`a${layer}.h${head}`, { x: headX(head), y: bottom - (2 * layer + 1) * ROW });
    places.set(`m${layer}`, { x: centre, y: bottom - (2 * layer + 2) * ROW });
  }
  places.set('logits', { x: centre, y: bottom - (2 * nLayers + 1) * ROW });

  const { writer, reader } = graph.edgeEndpoints();
  const edgeNames = graph.edgeNames();
  const drawn = Array.from({ length: graph.edgeCount }, (_, e) => e)
    .filter((e) => circuit.keep[e] === 1)
    .sort((a, b) => Number(circuit.rank[a]) - Number(circuit.rank[b]))
    .slice(0, options.maxEdges ?? 400);
  const maxAbs = drawn.reduce((m, e) => Math.max(m, Math.abs(scores[e]!)), 0);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  );
  out.push(`<text x="${MARGIN / 2}" y="24" font-size="15" font-weight="bold">${escapeXml(options.title ?? 'circuit')}</text>`);
  (options.subtitle ?? []).slice(0, 2).forEach((line, i) => {
    out.push(`<text x="${MARGIN / 2}" y="${44 + 16 * i}" font-size="11" fill="#444444">${escapeXml(line)}</text>`);
  });
  legend(out);

  // Weakest first, so the strongest edges are drawn on top.
  for (const e of [...drawn].reverse()) {
    const from = places.get(graph.writers[writer[e]!]!.name)!;
    const r = graph.readers[reader[e]!]!;
    const to = places.get(r.node)!;
    const letter: QkvLetter | 'other' = r.kind === 'head' ? r.qkv : 'other';
    const x1 = from.x;
    const y1 = from.y - BOX_H / 2;
    const x2 = to.x + (letter === 'other' ? 0 : PORT_OFFSET[letter]);
    const y2 = to.y + BOX_H / 2;
    const bend = Math.max(18, (y1 - y2) / 2);
    const s = scores[e]!;
    const colour = COLOURS[s <= 0 ? 'negative' : 'positive'][letter];
    const strokeWidth = 0.6 + (maxAbs > 0 ? (4.4 * Math.abs(s)) / maxAbs : 0);
    const dash = DASH[letter] === undefined ? '' : ` stroke-dasharray="${DASH[letter]}"`;
    out.push(
      `<path d="M${f(x1)} ${f(y1)} C${f(x1)} ${f(y1 - bend)} ${f(x2)} ${f(y2 + bend)} ${f(x2)} ${f(y2)}" fill="none" stroke="${colour}" stroke-width="${f(strokeWidth)}" stroke-opacity="0.8"${dash}><title>${escapeXml(edgeNames[e] ?? '')} ${s.toPrecision(3)}</title></path>`,
    );
  }

  const inCircuit = new Set(circuit.nodes);
  // Every node of the graph: the writers (input, heads, MLPs), and the logits when the graph has them.
  const nodeNames = [...graph.writers.map((w) => w.name), ...(graph.includeInputAndLogits ? ['logits'] : [])];
  for (const name of nodeNames) {
    const place = places.get(name)!;
    const on = inCircuit.has(name);
    const fill = !on ? '#ffffff' : name.startsWith('a') ? '#fde9b8' : name.startsWith('m') ? '#cfe8cf' : '#e3e3f3';
    out.push(
      `<rect x="${f(place.x - BOX_W / 2)}" y="${f(place.y - BOX_H / 2)}" width="${BOX_W}" height="${BOX_H}" rx="5" fill="${fill}" stroke="${on ? '#333333' : '#d0d0d0'}" stroke-width="${on ? 1.2 : 0.8}"/>`,
      `<text x="${f(place.x)}" y="${f(place.y + 4)}" font-size="11" text-anchor="middle" fill="${on ? '#111111' : '#b8b8b8'}">${escapeXml(name)}</text>`,
    );
  }
  if (!graph.includeInputAndLogits) {
    out.push(`<text x="${MARGIN / 2}" y="${height - 12}" font-size="10" fill="#666666">reference graph: the embedding feeds every reader and every writer feeds the logits</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

const LEGEND: [string, keyof typeof DASH, 'negative' | 'positive'][] = [
  ['score < 0 (ablating lowers M)', 'other', 'negative'],
  ['score > 0 (ablating raises M)', 'other', 'positive'],
  ['into q', 'q', 'negative'],
  ['into k', 'k', 'negative'],
  ['into v', 'v', 'negative'],
];
const LEGEND_CHARS = LEGEND.reduce((n, [label]) => n + label.length + 8, 0);

/** One line of legend items under the subtitle. */
function legend(out: string[]): void {
  let x = MARGIN / 2;
  const y = 84;
  for (const [label, letter, sign] of LEGEND) {
    const dash = DASH[letter];
    out.push(
      `<line x1="${f(x)}" y1="${y}" x2="${f(x + 24)}" y2="${y}" stroke="${COLOURS[sign][letter]}" stroke-width="2.5"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      `<text x="${f(x + 30)}" y="${y + 4}" font-size="11" fill="#333333">${escapeXml(label)}</text>`,
    );
    x += 30 + label.length * CHAR_W + 20;
  }
}

const f = (x: number) => (Math.round(x * 10) / 10).toString();
