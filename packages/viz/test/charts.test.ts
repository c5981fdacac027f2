import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { barChartSvg, formatNumber, heatMapSvg, lineChartSvg, panelGridSvg, writeFigure } from '../src/index';
import { createScale, logTicks, niceTicks } from '../src/scales';
import { svgSize } from '../src/svg';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

describe('axes', () => {
  it('gives nice linear ticks covering the range', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-0.13, 0.92, 5)).toEqual([-0.2, 0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 3)).toHaveLength(niceTicks(2.7, 3.3).length);
  });

  it('gives log ticks at powers of ten, with 2 and 5 over short ranges', () => {
    expect(logTicks(1, 32491)).toEqual([1, 10, 100, 1000, 10000, 100000]);
    expect(logTicks(1, 110)).toEqual([1, 2, 5, 10, 20, 50, 100, 200]);
    expect(createScale('log', [1, 110], [0, 100]).ticks).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(logTicks(3, 8)).toEqual([1, 2, 5, 10]);
  });

  it('formats labels compactly', () => {
    expect(formatNumber(10000)).toBe('10k');
    expect(formatNumber(32491)).toBe('32491');
    expect(formatNumber(2_000_000)).toBe('2M');
    expect(formatNumber(0.12345)).toBe('0.123');
    expect(formatNumber(-1.5)).toBe('-1.5');
    expect(formatNumber(Number.NaN)).toBe('n/a');
  });
});

describe('charts', () => {
  it('draws several series on a log x axis with reference lines, skipping x ≤ 0', () => {
    const svg = lineChartSvg({
      title: 'faithfulness <edges>',
      xLabel: 'edges',
      yLabel: 'faithfulness',
      xScale: 'log',
      series: [
        { name: 'eap', points: [[0, 0.1], [1, 0.2], [10, 0.7], [100, 1]] },
        { name: 'random', points: [[1, 0], [10, 0.1], [100, 1]], dashed: true, band: [[1, -0.1, 0.1], [10, 0, 0.2], [100, 1, 1]] },
      ],
      hLines: [{ value: 0.9, label: 'τ = 0.9' }],
      vLines: [{ value: 10, label: 'N* = 10' }],
      yInclude: [0, 1],
    });
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain('faithfulness &lt;edges&gt;');
    expect(svg).toContain('edges (log scale)');
    expect(svg).toContain('τ = 0.9');
    expect(svg).toContain('stroke-dasharray="6 4"');
    expect(svg).toContain('<polygon');
    // 3 + 3 markers: the point at x = 0 has no place on a log axis.
    expect(svg.match(/<circle /g)).toHaveLength(6);
    expect(lineChartSvg({ xLabel: 'x', yLabel: 'y', series: [] })).toContain('no data');
  });

  it('draws a heat map with a cell per value and refuses a wrong count', () => {
    const svg = heatMapSvg({
      title: 'logit lens',
      rowLabels: ['L0', 'L1'],
      columnLabels: ['h0', 'h1', 'mlp'],
      values: [0.5, -1, 0, 2, Number.NaN, 0.1],
      highlight: [false, true, false, false, false, false],
      valueLabel: 'logit diff',
    });
    expect(svg.match(/<rect x="[\d.]+" y="[\d.]+" width="\d+" height="\d+" fill="#/g)!.length).toBeGreaterThanOrEqual(6);
    expect(svg).toContain('L1 / h1: n/a');
    expect(svg).toContain('stroke-width="2"');
    expect(() => heatMapSvg({ rowLabels: ['a'], columnLabels: ['b'], values: [1, 2] })).toThrow(/2 values for 1 rows × 1 columns/);
  });

  it('draws grouped bars with negative values below the baseline', () => {
    const svg = barChartSvg({
      title: 'accuracy',
      categories: ['sv-agreement', 'ioi'],
      series: [
        { name: 'base', values: [0.9, 0.5] },
        { name: 'full', values: [-0.2, Number.NaN] },
      ],
    });
    expect(svg.match(/<title>/g)).toHaveLength(3);
    expect(svg).toContain('sv-agreement · full: -0.2');
    expect(() => barChartSvg({ categories: ['a'], series: [{ name: 's', values: [1, 2] }] })).toThrow(/2 values for 1 categories/);
  });

  it('composes panels side by side and renders PNG', async () => {
    const a = barChartSvg({ categories: ['x'], series: [{ name: 's', values: [1] }], width: 300, height: 200 });
    const b = barChartSvg({ categories: ['y'], series: [{ name: 's', values: [2] }], width: 400, height: 250 });
    const grid = panelGridSvg([a, b], { title: 'two panels', captions: ['before', 'after'] });
    const size = svgSize(grid);
    expect(size.width).toBe(16 + 300 + 16 + 400 + 16);
    expect(size.height).toBe(34 + 16 + 250 + 22 + 16);
    expect(grid.match(/<svg /g)).toHaveLength(3);
    const dir = await mkdtemp(join(tmpdir(), 'viz-'));
    try {
      const written = await writeFigure(grid, { svg: join(dir, 'f.svg'), png: join(dir, 'f.png') });
      expect(written).toBe(true);
      expect(await readFile(join(dir, 'f.svg'), 'utf8')).toBe(grid);
      expect(Array.from((await readFile(join(dir, 'f.png'))).subarray(0, 8))).toEqual(PNG_MAGIC);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
