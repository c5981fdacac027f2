/**
 * A circuit drawn from a discovery run's tables (the run report and the viewer; ./circuit.ts draws
 * from the model's graph for the stages' figures) (nodes.arrow, edges.arrow), for the report and the
 * viewer: the input at the bottom, per layer a row of heads and above it the MLP, the logits on
 * top; circuit edges as curves whose width grows with |score| (red positive, blue negative, k and
 * v inputs dashed). Every node and edge carries `data-name` / `data-score` and a `<title>`, so
 * hovering shows its score (a tooltip in the viewer, the browser's title elsewhere).
 */
import { escapeXmlText, formatValue } from './hover-line-chart';

export interface CircuitNodeRow {
  name: string;
  kind: string;
  layer: number;
  head: number;
  score: number;
  inCircuit: boolean;
}

export interface CircuitEdgeRow {
  name: string;
  writer: string;
  reader: string;
  qkv: string;
  score: number;
  inCircuit: boolean;
  rank: number;
}

export interface CircuitDrawingOptions {
  title?: string;
  subtitle?: string;
  /** The best-ranked circuit edges drawn (default 300). */
  maxEdges?: number;
}

const BOX_W = 54;
const BOX_H = 22;
const COL = 68;
const ROW = 58;
const MARGIN = 30;
const HEADER = 52;

export function circuitDrawingSvg(nodes: readonly CircuitNodeRow[], edges: readonly CircuitEdgeRow[], options: CircuitDrawingOptions = {}): string {
  const nLayers = Math.max(0, ...nodes.filter((n) => n.kind === 'head' || n.kind === 'mlp').map((n) => n.layer + 1));
  const nHeads = Math.max(1, ...nodes.filter((n) => n.kind === 'head').map((n) => n.head + 1));
  const width = Math.max(2 * MARGIN + (nHeads - 1) * COL + BOX_W, 360);
  const rows = 2 * nLayers + 2;
  const height = HEADER + MARGIN + (rows - 1) * ROW + BOX_H + MARGIN;
  const bottom = height - MARGIN - BOX_H / 2;
  const centre = width / 2;
  const place = (node: CircuitNodeRow): [number, number] => {
    switch (node.kind) {
      case 'input':
        return [centre, bottom];
      case 'logits':
        return [centre, bottom - (rows - 1) * ROW];
      case 'head':
        return [centre + (node.head - (nHeads - 1) / 2) * COL, bottom - (1 + 2 * node.layer) * ROW];
      default:
        return [centre, bottom - (2 + 2 * node.layer) * ROW];
    }
  };
  const places = new Map(nodes.map((n) => [n.name, place(n)]));
  const drawn = edges
    .filter((e) => e.inCircuit)
    .sort((a, b) => a.rank - b.rank)
    .slice(0, options.maxEdges ?? 300);
  const maxAbs = Math.max(1e-12, ...drawn.map((e) => Math.abs(e.score)));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="circuit" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="'DejaVu Sans', Arial, Helvetica, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${MARGIN / 2}" y="20" font-size="13" font-weight="bold">${escapeXmlText(options.title ?? 'circuit')}</text>`,
  ];
  if (options.subtitle) out.push(`<text x="${MARGIN / 2}" y="38" fill="#555">${escapeXmlText(options.subtitle)}</text>`);
  out.push('<g class="edges">');
  for (const edge of drawn) {
    const from = places.get(edge.writer);
    const to = places.get(edge.reader);
    if (from === undefined || to === undefined) continue;
    const [x1, y1] = [from[0], from[1] - BOX_H / 2];
    const offset = edge.qkv === 'q' ? -16 : edge.qkv === 'v' ? 16 : 0;
    const [x2, y2] = [to[0] + offset, to[1] + BOX_H / 2];
    const bend = Math.max(12, (y1 - y2) * 0.4);
    // Edges within the centre column (input, MLPs, logits) would lie on top of each other: a
    // longer skip arcs further out, alternating sides, so each stays visible and hoverable.
    const dx = Math.abs(x1 - x2) < 1 && y1 - y2 > ROW * 1.5 ? (edge.rank % 2 === 0 ? 1 : -1) * (10 + 0.22 * (y1 - y2)) : 0;
    const colour = edge.score >= 0 ? (edge.qkv === 'k' ? '#cf3b2a' : edge.qkv === 'v' ? '#ef8a68' : '#b8261c') : edge.qkv === 'k' ? '#2b72c9' : edge.qkv === 'v' ? '#5fa8e6' : '#1f5fae';
    const dash = edge.qkv === 'k' ? ' stroke-dasharray="6 3"' : edge.qkv === 'v' ? ' stroke-dasharray="2 2.5"' : '';
    const strokeWidth = 0.6 + 4.4 * (Math.abs(edge.score) / maxAbs);
    out.push(
      `<path class="edge" data-name="${escapeXmlText(edge.name)}" data-score="${edge.score}" d="M${f(x1)} ${f(y1)} C${f(x1 + dx)} ${f(y1 - bend)} ${f(x2 + dx)} ${f(y2 + bend)} ${f(x2)} ${f(y2)}" fill="none" stroke="${colour}" stroke-width="${f(strokeWidth)}" stroke-opacity="0.75"${dash}><title>${escapeXmlText(edge.name)}: score ${formatValue(edge.score)} (rank ${edge.rank})</title></path>`,
    );
  }
  out.push('</g><g class="nodes">');
  for (const node of nodes) {
    const [x, y] = places.get(node.name) as [number, number];
    const fill = node.inCircuit ? (node.kind === 'mlp' ? '#fde9c8' : node.kind === 'head' ? '#dbe9f7' : '#e6e6e6') : '#fafafa';
    const stroke = node.inCircuit ? '#333' : '#ccc';
    out.push(
      `<g class="node" data-name="${escapeXmlText(node.name)}" data-score="${node.score}" data-in-circuit="${node.inCircuit ? 1 : 0}"><rect x="${f(x - BOX_W / 2)}" y="${f(y - BOX_H / 2)}" width="${BOX_W}" height="${BOX_H}" rx="4" fill="${fill}" stroke="${stroke}"/><text x="${f(x)}" y="${f(y + 4)}" text-anchor="middle" fill="${node.inCircuit ? '#111' : '#aaa'}">${escapeXmlText(node.name)}</text><title>${escapeXmlText(node.name)}: score ${formatValue(node.score)}${node.inCircuit ? ' (in the circuit)' : ''}</title></g>`,
    );
  }
  out.push('</g></svg>');
  return out.join('');
}

function f(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}
