import { paletteColour } from './colour';
import { type AxisKind, createScale, type Scale } from './scales';
import { coord, escapeXml, formatNumber, formatValue, svgOpen, textWidth, titleBlock } from './svg';

export interface LineSeries {
  name: string;
  /** [x, y] pairs in drawing order; non-finite values (and x ≤ 0 on a log axis) are skipped. */
  points: readonly (readonly [number, number])[];
  colour?: string;
  dashed?: boolean;
  /** A marker at each point; by default when the series has at most 60 points. */
  markers?: boolean;
  /** A shaded band [x, low, high] behind the line (e.g. the spread of random baselines). */
  band?: readonly (readonly [number, number, number])[];
}

/** A horizontal (y = value) or vertical (x = value) reference line with a label. */
export interface ReferenceLine {
  value: number;
  label?: string;
  colour?: string;
  dashed?: boolean;
}

export interface LineChartSpec {
  title?: string;
  subtitle?: string[];
  xLabel: string;
  yLabel: string;
  xScale?: AxisKind;
  yScale?: AxisKind;
  series: readonly LineSeries[];
  hLines?: readonly ReferenceLine[];
  vLines?: readonly ReferenceLine[];
  /** Values each axis must show (e.g. 0 and 1 for faithfulness). */
  xInclude?: readonly number[];
  yInclude?: readonly number[];
  width?: number;
  height?: number;
}

/**
 * The one line chart (the stages' figures, the run report, the viewer): several series, linear or
 * log₁₀ axes, reference lines and a legend below the plot. Each series is a group named by
 * `data-series`; each marker carries `data-name` / `data-score` and a `<title>`, so hovering shows
 * its value (a tooltip in the viewer, the browser's title elsewhere). Deterministic: the same spec
 * gives the same bytes.
 */
export function lineChartSvg(spec: LineChartSpec): string {
  const width = spec.width ?? 640;
  const legend = legendLayout(spec.series.map((s) => s.name), width - 80);
  const header = (spec.title ? 26 : 0) + 15 * Math.min(2, spec.subtitle?.length ?? 0) + 14;
  const height = spec.height ?? 360 + legend.height;
  const margin = { left: 70, right: 24, top: header + 8, bottom: 48 + legend.height };
  const xKind = spec.xScale ?? 'linear';
  const yKind = spec.yScale ?? 'linear';
  const valid = (x: number, y: number) => Number.isFinite(x) && Number.isFinite(y) && (xKind === 'linear' || x > 0) && (yKind === 'linear' || y > 0);
  const series = spec.series.map((s) => ({ ...s, points: s.points.filter(([x, y]) => valid(x, y)) }));
  const xs = series.flatMap((s) => [...s.points.map((p) => p[0]), ...(s.band ?? []).map((b) => b[0])]);
  const ys = series.flatMap((s) => [...s.points.map((p) => p[1]), ...(s.band ?? []).flatMap((b) => [b[1], b[2]])]);
  const x = createScale(xKind, xs, [margin.left, width - margin.right], {
    include: [...(spec.xInclude ?? []), ...(spec.vLines ?? []).map((l) => l.value)],
    ticks: 6,
  });
  const y = createScale(yKind, ys, [height - margin.bottom, margin.top], { include: [...(spec.yInclude ?? []), ...(spec.hLines ?? []).map((l) => l.value)] });

  const out = svgOpen(width, height, 11, 'chart');
  titleBlock(out, 12, spec.title, spec.subtitle);
  axes(out, x, y, spec, { width, height, margin });
  if (xs.length === 0) {
    out.push(`<text x="${coord(width / 2)}" y="${coord(height / 2)}" text-anchor="middle" fill="#888888">no data</text>`);
  }
  series.forEach((s, i) => {
    const colour = s.colour ?? paletteColour(i);
    const band = (s.band ?? []).filter(([bx, lo, hi]) => valid(bx, lo) && valid(bx, hi));
    if (band.length > 1) {
      const upper = band.map(([bx, , hi]) => `${coord(x.map(bx))},${coord(y.map(hi))}`);
      const lower = [...band].reverse().map(([bx, lo]) => `${coord(x.map(bx))},${coord(y.map(lo))}`);
      out.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${colour}" fill-opacity="0.15" stroke="none"/>`);
    }
  });
  series.forEach((s, i) => {
    const colour = s.colour ?? paletteColour(i);
    out.push(`<g class="series" data-series="${escapeXml(s.name)}">`);
    if (s.points.length > 1) {
      const d = s.points.map(([px, py], k) => `${k === 0 ? 'M' : 'L'}${coord(x.map(px))} ${coord(y.map(py))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}><title>${escapeXml(s.name)}</title></path>`);
    }
    if (s.markers ?? s.points.length <= 60) {
      for (const [px, py] of s.points) {
        out.push(
          `<circle cx="${coord(x.map(px))}" cy="${coord(y.map(py))}" r="3" fill="${colour}" data-name="${escapeXml(`${s.name} @ ${formatNumber(px)}`)}" data-score="${py}"><title>${escapeXml(`${s.name}: ${formatNumber(px)} → ${formatValue(py)}`)}</title></circle>`,
        );
      }
    }
    out.push('</g>');
  });
  referenceLines(out, x, y, spec, { width, height, margin });
  legend.draw(out, margin.left, height - legend.height - 6, spec.series.map((s, i) => ({ name: s.name, colour: s.colour ?? paletteColour(i), dashed: s.dashed ?? false })));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

interface Frame {
  width: number;
  height: number;
  margin: { left: number; right: number; top: number; bottom: number };
}

function axes(out: string[], x: Scale, y: Scale, spec: LineChartSpec, { width, height, margin }: Frame): void {
  const bottom = height - margin.bottom;
  for (const t of y.ticks) {
    const py = y.map(t);
    out.push(`<line x1="${margin.left}" x2="${coord(width - margin.right)}" y1="${coord(py)}" y2="${coord(py)}" stroke="#eeeeee"/>`);
    out.push(`<text x="${margin.left - 6}" y="${coord(py + 4)}" text-anchor="end" fill="#444444">${formatNumber(t)}</text>`);
  }
  for (const t of x.ticks) {
    const px = x.map(t);
    out.push(`<line x1="${coord(px)}" x2="${coord(px)}" y1="${coord(margin.top)}" y2="${coord(bottom)}" stroke="#f3f3f3"/>`);
    out.push(`<line x1="${coord(px)}" x2="${coord(px)}" y1="${coord(bottom)}" y2="${coord(bottom + 4)}" stroke="#444444"/>`);
    out.push(`<text x="${coord(px)}" y="${coord(bottom + 16)}" text-anchor="middle" fill="#444444">${formatNumber(t)}</text>`);
  }
  out.push(`<line x1="${margin.left}" x2="${coord(width - margin.right)}" y1="${coord(bottom)}" y2="${coord(bottom)}" stroke="#444444"/>`);
  out.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${coord(margin.top)}" y2="${coord(bottom)}" stroke="#444444"/>`);
  const xLabel = `${spec.xLabel}${x.kind === 'log' ? ' (log scale)' : ''}`;
  out.push(`<text x="${coord((margin.left + width - margin.right) / 2)}" y="${coord(bottom + 34)}" text-anchor="middle" fill="#222222">${escapeXml(xLabel)}</text>`);
  const cy = (margin.top + bottom) / 2;
  out.push(`<text x="16" y="${coord(cy)}" text-anchor="middle" fill="#222222" transform="rotate(-90 16 ${coord(cy)})">${escapeXml(spec.yLabel)}</text>`);
}

function referenceLines(out: string[], x: Scale, y: Scale, spec: LineChartSpec, { width, height, margin }: Frame): void {
  for (const line of spec.hLines ?? []) {
    const py = y.map(line.value);
    if (!Number.isFinite(py)) continue;
    const colour = line.colour ?? '#555555';
    out.push(
      `<line x1="${margin.left}" x2="${coord(width - margin.right)}" y1="${coord(py)}" y2="${coord(py)}" stroke="${colour}" stroke-width="1.2"${line.dashed === false ? '' : ' stroke-dasharray="4 3"'}/>`,
    );
    if (line.label) out.push(`<text x="${coord(width - margin.right - 4)}" y="${coord(py - 4)}" text-anchor="end" fill="${colour}">${escapeXml(line.label)}</text>`);
  }
  spec.vLines?.forEach((line, i) => {
    const px = x.map(line.value);
    if (!Number.isFinite(px)) return;
    const colour = line.colour ?? '#555555';
    out.push(
      `<line x1="${coord(px)}" x2="${coord(px)}" y1="${coord(margin.top)}" y2="${coord(height - margin.bottom)}" stroke="${colour}" stroke-width="1.2"${line.dashed === false ? '' : ' stroke-dasharray="4 3"'}/>`,
    );
    // Labels sit right of their line, or left of it in the right half, so they stay on the canvas.
    const right = px < (margin.left + width - margin.right) / 2;
    if (line.label) {
      out.push(`<text x="${coord(right ? px + 4 : px - 4)}" y="${coord(margin.top + 12 + 14 * i)}" text-anchor="${right ? 'start' : 'end'}" fill="${colour}">${escapeXml(line.label)}</text>`);
    }
  });
}

/** Legend items flowed into rows under the plot. */
function legendLayout(names: readonly string[], maxWidth: number) {
  const itemWidth = (name: string) => 34 + textWidth(name) + 18;
  const rows: number[][] = [[]];
  let used = 0;
  names.forEach((name, i) => {
    const w = itemWidth(name);
    if (used + w > maxWidth && rows.at(-1)!.length > 0) {
      rows.push([]);
      used = 0;
    }
    rows.at(-1)!.push(i);
    used += w;
  });
  const height = names.length === 0 ? 0 : rows.length * 16;
  return {
    height,
    draw(out: string[], left: number, top: number, items: { name: string; colour: string; dashed: boolean }[]) {
      rows.forEach((row, r) => {
        let px = left;
        const py = top + r * 16 + 8;
        for (const i of row) {
          const item = items[i]!;
          out.push(
            `<line x1="${coord(px)}" x2="${coord(px + 26)}" y1="${coord(py)}" y2="${coord(py)}" stroke="${item.colour}" stroke-width="2.5"${item.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
            `<text x="${coord(px + 32)}" y="${coord(py + 4)}" fill="#333333">${escapeXml(item.name)}</text>`,
          );
          px += itemWidth(item.name);
        }
      });
    },
  };
}

/** At most `max` points, evenly spaced, always keeping the first and the last (a long training log drawn). */
export function downsample<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.round((i * (points.length - 1)) / (max - 1))] as T);
  return out;
}
