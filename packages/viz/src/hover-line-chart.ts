/**
 * The line chart of the run report and the viewer: every point carries `data-name` / `data-score`
 * and a tooltip, and one step keeps its colour across charts. Deterministic: the same series give
 * the same bytes. It differs from ./line-chart.ts (the stages' figures) in its ticks, labels and
 * layout; drawing the report with that one changes every report's bytes, so it waits for a report
 * version of its own.
 */
import { PALETTE } from './colour';

export interface HoverSeries {
  name: string;
  /** [x, y] pairs; non-finite values are skipped. */
  points: readonly (readonly [number, number])[];
}

export interface HoverChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Draw a marker with a tooltip at each point when a series has at most this many (default 60). */
  markersUpTo?: number;
  /** A series' colour by name (so one step keeps its colour across charts); by position otherwise. */
  colourOf?: (name: string, index: number) => string;
}

const FONT = "font-family=\"'DejaVu Sans', Arial, Helvetica, sans-serif\"";

export function hoverLineChartSvg(series: readonly HoverSeries[], options: HoverChartOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 320;
  const margin = { left: 64, right: 16, top: 34, bottom: 46 };
  const legendRows = Math.ceil(series.length / 3);
  const plotBottom = height - margin.bottom - legendRows * 16;
  const clean = series.map((s) => ({ name: s.name, points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) }));
  const all = clean.flatMap((s) => s.points);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${margin.left}" y="18" font-size="13" font-weight="bold">${escapeXmlText(options.title)}</text>`,
  ];
  if (all.length === 0) {
    out.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="#888">no data</text></svg>`);
    return out.join('');
  }
  const [x0, x1] = extent(all.map((p) => p[0]));
  const [y0, y1] = extent(all.map((p) => p[1]));
  const xTicks = niceTicks(x0, x1, 6);
  const yTicks = niceTicks(y0, y1, 5);
  const xMin = Math.min(x0, xTicks[0] as number);
  const xMax = Math.max(x1, xTicks[xTicks.length - 1] as number);
  const yMin = Math.min(y0, yTicks[0] as number);
  const yMax = Math.max(y1, yTicks[yTicks.length - 1] as number);
  const sx = (x: number) => margin.left + ((x - xMin) / (xMax - xMin || 1)) * (width - margin.left - margin.right);
  const sy = (y: number) => plotBottom - ((y - yMin) / (yMax - yMin || 1)) * (plotBottom - margin.top);

  for (const t of yTicks) {
    out.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${f(sy(t))}" y2="${f(sy(t))}" stroke="#eee"/>`);
    out.push(`<text x="${margin.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end" fill="#444">${tickLabel(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${plotBottom}" y2="${plotBottom + 4}" stroke="#444"/>`);
    out.push(`<text x="${f(sx(t))}" y="${plotBottom + 16}" text-anchor="middle" fill="#444">${tickLabel(t)}</text>`);
  }
  out.push(`<line x1="${margin.left}" x2="${width - margin.right}" y1="${plotBottom}" y2="${plotBottom}" stroke="#444"/>`);
  out.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${plotBottom}" stroke="#444"/>`);
  out.push(`<text x="${(margin.left + width - margin.right) / 2}" y="${plotBottom + 32}" text-anchor="middle">${escapeXmlText(options.xLabel)}</text>`);
  out.push(
    `<text x="14" y="${(margin.top + plotBottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(margin.top + plotBottom) / 2})">${escapeXmlText(options.yLabel)}</text>`,
  );

  const markersUpTo = options.markersUpTo ?? 60;
  clean.forEach((s, i) => {
    const colour = options.colourOf?.(s.name, i) ?? (PALETTE[i % PALETTE.length] as string);
    const path = s.points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${f(sx(x))} ${f(sy(y))}`).join('');
    out.push(`<g class="series" data-series="${escapeXmlText(s.name)}">`);
    if (s.points.length > 1) out.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="1.6"><title>${escapeXmlText(s.name)}</title></path>`);
    if (s.points.length <= markersUpTo) {
      for (const [x, y] of s.points) {
        out.push(
          `<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="2.6" fill="${colour}" data-score="${y}" data-name="${escapeXmlText(`${s.name} @ ${tickLabel(x)}`)}"><title>${escapeXmlText(s.name)}: ${tickLabel(x)} → ${formatValue(y)}</title></circle>`,
        );
      }
    }
    out.push('</g>');
    const lx = margin.left + (i % 3) * ((width - margin.left - margin.right) / 3);
    const ly = height - margin.bottom / 2 - (legendRows - 1 - Math.floor(i / 3)) * 16 + 6;
    out.push(`<rect x="${f(lx)}" y="${ly - 8}" width="12" height="3" fill="${colour}"/>`);
    out.push(`<text x="${f(lx + 16)}" y="${ly - 3}">${escapeXmlText(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}

/** At most `max` points, evenly spaced, always keeping the first and the last. */
export function downsample<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.round((i * (points.length - 1)) / (max - 1))] as T);
  return out;
}

function extent(values: number[]): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === hi) return [lo - (Math.abs(lo) || 1) * 0.05, hi + (Math.abs(hi) || 1) * 0.05];
  return [lo, hi];
}

/** Round tick values covering [lo, hi] (Heckbert's nice numbers). */
function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = niceNumber(hi - lo, false);
  const step = niceNumber(span / Math.max(1, count - 1), true);
  const start = Math.floor(lo / step) * step;
  const end = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = start; t <= end + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function niceNumber(x: number, round: boolean): number {
  const exp = Math.floor(Math.log10(x));
  const fraction = x / 10 ** exp;
  let nice: number;
  if (round) nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  else nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * 10 ** exp;
}

function tickLabel(x: number): string {
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 1e5 || abs < 1e-3) return x.toExponential(1);
  return String(Number(x.toPrecision(4)));
}

/** A number for a table or tooltip: 4 significant digits, integers as they are. */
export function formatValue(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (Number.isInteger(x)) return String(x);
  const abs = Math.abs(x);
  if (abs >= 1e5 || abs < 1e-3) return x.toExponential(3);
  return String(Number(x.toPrecision(4)));
}

function f(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}

/** Escapes text and attribute values (an apostrophe is left as it is, unlike ./svg.ts's escapeXml). */
export function escapeXmlText(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
