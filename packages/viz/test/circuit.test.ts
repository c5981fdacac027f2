/** The one circuit drawer (packages/viz/src/circuit.ts) and the line chart's hover attributes. */
import { buildGraph } from '@circuit-tuning/contracts';
import { describe, expect, it } from 'vitest';
import { type CircuitEdgeRow, type CircuitNodeRow, circuitDrawingSvg, circuitSvg, downsample, lineChartSvg } from '../src/index';

/** The centre of the box a node is drawn in, read back from the SVG. */
function nodeCentre(svg: string, name: string): { x: number; y: number; width: number } {
  const match = new RegExp(`<g class="node" data-name="${name.replace('.', '\\.')}"[^>]*><rect x="([\\d.]+)" y="([\\d.]+)" width="([\\d.]+)" height="([\\d.]+)"`).exec(svg);
  if (match === null) throw new Error(`no node ${name}`);
  const [x, y, w, h] = match.slice(1).map(Number) as [number, number, number, number];
  return { x: x + w / 2, y: y + h / 2, width: w };
}

const nodes: CircuitNodeRow[] = ['input', 'a0.h0', 'a0.h1', 'm0', 'a1.h0', 'a1.h1', 'm1', 'logits'].map((name, i) => ({ name, score: i / 10, inCircuit: name !== 'a1.h1' }));
const edge = (writer: string, reader: string, qkv: CircuitEdgeRow['qkv'], score: number, rank: number): CircuitEdgeRow => ({
  name: `${writer}->${reader}${qkv === '' ? '' : `<${qkv}>`}`,
  writer,
  reader,
  qkv,
  score,
  inCircuit: true,
  rank,
});

describe('circuitDrawingSvg', () => {
  it('places layers bottom to top, heads side by side, and carries names and scores for hovering', () => {
    const edges = [edge('input', 'a0.h1', 'k', -0.5, 1), edge('a0.h0', 'm0', '', 2, 0), edge('input', 'logits', '', 0.1, 2), { ...edge('m0', 'a1.h1', 'v', 9, 3), inCircuit: false }];
    const svg = circuitDrawingSvg(nodes, edges, { title: 'ioi <test>', subtitle: ['3 of 4 edges'] });
    expect(svg).toMatch(/^<svg [^>]*class="circuit"/);
    expect(svg).toContain('ioi &lt;test&gt;');
    const at = (name: string) => nodeCentre(svg, name);
    expect(at('input').y).toBeGreaterThan(at('a0.h0').y);
    expect(at('a0.h0').y).toBeGreaterThan(at('m0').y);
    expect(at('m1').y).toBeGreaterThan(at('logits').y);
    expect(at('a0.h0').y).toBe(at('a0.h1').y);
    expect(at('a0.h0').x).toBeLessThan(at('a0.h1').x);
    expect(at('input').x).toBe(at('logits').x);
    // Only circuit edges, each hoverable; a k edge is dashed and ends on the head's k port (its centre).
    expect(svg.match(/<path class="edge"/g)).toHaveLength(3);
    expect(svg).toContain('data-name="input-&gt;a0.h1&lt;k&gt;" data-score="-0.5"');
    expect(svg).toMatch(/data-name="input-&gt;a0.h1&lt;k&gt;"[^>]*stroke-dasharray="6 3"/);
    expect(svg).toContain('<title>a0.h0-&gt;m0: score 2 (rank 0)</title>');
    // The strongest edge is drawn last (on top) and widest.
    const widths = [...svg.matchAll(/<path class="edge" data-name="([^"]+)"[^>]*stroke-width="([\d.]+)"/g)].map((m) => [m[1], Number(m[2])] as const);
    expect(widths.at(-1)).toEqual(['a0.h0-&gt;m0', 5]);
    // A node outside the circuit is faint; a node's score is in its tooltip.
    expect(svg).toContain('data-name="a1.h1" data-score="0.5" data-in-circuit="0"');
    expect(svg).toContain('<title>m0: score 0.3 (in the circuit)</title>');
    expect(svg).not.toContain('reference graph');
  });

  it('draws an MLP split into heads as a row, and says when the graph is the reference one', () => {
    const split: CircuitNodeRow[] = ['a0.h0', 'm0.n0', 'm0.n1', 'm0.n2', 'm0.n3'].map((name) => ({ name, inCircuit: true }));
    const svg = circuitDrawingSvg(split, [edge('a0.h0', 'm0.n2', '', 1, 0)]);
    const xs = ['m0.n0', 'm0.n1', 'm0.n2', 'm0.n3'].map((n) => nodeCentre(svg, n).x);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    expect(new Set(['m0.n0', 'm0.n3'].map((n) => nodeCentre(svg, n).y)).size).toBe(1);
    expect(svg).toContain('reference graph');
    expect(() => circuitDrawingSvg([{ name: 'attn0', inCircuit: true }], [])).toThrow(/"attn0" is not a node name/);
    expect(() => circuitDrawingSvg(split, [edge('a0.h0', 'm3', '', 1, 0)])).toThrow(/edge a0\.h0->m3 joins a node that is not in the nodes/);
  });

  it('from a model graph: the same drawing as from the rows of the same circuit', () => {
    const graph = buildGraph({ nLayers: 2, nHeads: 2 }, { includeInputAndLogits: true });
    const names = graph.edgeNames();
    const keep = new Uint8Array(graph.edgeCount);
    const rank = new Int32Array(graph.edgeCount).fill(-1);
    const scores = Float64Array.from(names, (_, e) => (e % 3) - 1 + e / 100);
    const chosen = [0, 5, 17];
    chosen.forEach((e, r) => {
      keep[e] = 1;
      rank[e] = r;
    });
    const { writer, reader } = graph.edgeEndpoints();
    const inCircuit = new Set(chosen.flatMap((e) => [graph.writers[writer[e]!]!.name, graph.readers[reader[e]!]!.node]));
    const fromGraph = circuitSvg(graph, scores, { keep, rank, nodes: [...inCircuit] }, { title: 't' });
    const rows = circuitDrawingSvg(
      [...graph.writers.map((w) => w.name), 'logits'].map((name) => ({ name, inCircuit: inCircuit.has(name) })),
      chosen.map((e, r) => {
        const rd = graph.readers[reader[e]!]!;
        return { name: names[e]!, writer: graph.writers[writer[e]!]!.name, reader: rd.node, qkv: rd.kind === 'head' ? rd.qkv : '', score: scores[e]!, inCircuit: true, rank: r };
      }),
      { title: 't' },
    );
    expect(fromGraph).toBe(rows);
  });
});

describe('a circuit against an earlier one', () => {
  it('draws an edge into a kv group (grouped-query attention) to its k/v port between the group’s heads, with no box for the group', () => {
    const graph = buildGraph({ nLayers: 2, nHeads: 4, kvGroups: 2 });
    const keep = new Uint8Array(graph.edgeCount);
    keep[graph.edgeIndex('input', 'a1.g1<k>')] = 1;
    keep[graph.edgeIndex('a1.h3', 'logits')] = 1;
    const rank = Int32Array.from({ length: graph.edgeCount }, (_, i) => i + 1);
    const svg = circuitSvg(graph, new Float64Array(graph.edgeCount).fill(0.5), { keep, rank, nodes: ['input', 'a1.h2', 'a1.h3', 'logits'] }, { title: 'kv' });
    expect(svg.match(/<path class="edge"/g)).toHaveLength(2);
    expect(svg).toContain('data-reader="a1.g1"');
    expect(svg).not.toContain('data-name="a1.g1"'); // a reader only: no node box
    const path = /data-name="input-&gt;a1\.g1&lt;k&gt;"[^>]* d="([^"]+)"/.exec(svg)![1]!;
    const end = path.trim().split(/[ ,]+/).slice(-2).map(Number) as [number, number];
    // It ends on the k port (centre x) halfway between a1.h2 and a1.h3.
    expect(end[0]).toBeCloseTo((nodeCentre(svg, 'a1.h2').x + nodeCentre(svg, 'a1.h3').x) / 2, 5);
  });

  it('marks the edges that are new with a halo and draws the dropped ones as grey dashes, with a legend for both', () => {
    const graph = buildGraph({ nLayers: 1, nHeads: 2 }, { includeInputAndLogits: true });
    const names = graph.edgeNames();
    const keepOf = (edges: number[]) => Uint8Array.from(names, (_, e) => (edges.includes(e) ? 1 : 0));
    const rank = Int32Array.from(names, (_, e) => e);
    const scores = Float64Array.from(names, () => 1);
    const svg = circuitSvg(graph, scores, { keep: keepOf([0, 1]), rank, nodes: [] }, { previous: { keep: keepOf([1, 2]) } });
    expect(svg.match(/<path class="halo"/g)).toHaveLength(1);
    const esc = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
    expect(svg).toMatch(new RegExp(`data-name="${esc(names[0]!)}"[^>]*data-change="new"`));
    expect(svg).toMatch(/data-change="new"/);
    expect(svg.match(/<path class="edge dropped"/g)).toHaveLength(1);
    expect(svg).toContain(`${esc(names[2]!)}: dropped since the earlier circuit`);
    expect(svg).toContain('>new</text>');
    expect(svg).toContain('>dropped</text>');
    // Without an earlier circuit nothing is marked and the legend has no such items.
    const plain = circuitSvg(graph, scores, { keep: keepOf([0, 1]), rank, nodes: [] });
    expect(plain).not.toMatch(/halo|dropped/);
  });
});

describe('the line chart for hovering', () => {
  it('groups each series and gives each marker its name and value', () => {
    const svg = lineChartSvg({ title: 'loss', xLabel: 'step', yLabel: 'loss', series: [{ name: 'train-full', points: [[1, 2.5], [2, 2.25]], colour: '#123456' }] });
    expect(svg).toMatch(/^<svg [^>]*class="chart"/);
    expect(svg).toContain('<g class="series" data-series="train-full">');
    expect(svg).toContain('data-name="train-full @ 2" data-score="2.25"');
    expect(svg).toContain('<title>train-full: 2 → 2.25</title>');
    expect(svg).toContain('stroke="#123456"');
  });

  it('downsamples a long series keeping the first and last points', () => {
    const points = Array.from({ length: 1000 }, (_, i) => i);
    const kept = downsample(points, 10);
    expect(kept).toHaveLength(10);
    expect(kept[0]).toBe(0);
    expect(kept.at(-1)).toBe(999);
    expect(downsample([1, 2], 10)).toEqual([1, 2]);
  });
});
