/**
 * The small SVG vocabulary every chart shares: escaping, number formatting for coordinates and
 * labels, the font stack, and reading a drawing's size back (for composing panels).
 */

/** DejaVu Sans first: it is what resvg finds on Linux, so SVG and PNG show the same text. */
export const FONT_FAMILY = "'DejaVu Sans', Arial, Helvetica, sans-serif";

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

/** A coordinate with one decimal: enough for screens, and keeps files small and byte-stable. */
export const coord = (x: number): string => (Math.round(x * 10) / 10).toString();

/**
 * A tick or value label: integers as they are (thousands as 1k, 10k, 1M), other numbers with
 * three significant digits, no trailing zeros.
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'n/a' : value > 0 ? '∞' : '−∞';
  const abs = Math.abs(value);
  if (abs >= 1e6 && Number.isInteger(value / 1e5)) return `${trim(value / 1e6)}M`;
  if (abs >= 1e4 && Number.isInteger(value / 100)) return `${trim(value / 1e3)}k`;
  if (Number.isInteger(value)) return String(value);
  if (abs >= 1e-3 && abs < 1e5) return trim(value);
  return value.toExponential(1);
}

/** A number for a table or tooltip: 4 significant digits, integers as they are, '–' for none. */
export function formatValue(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (Number.isInteger(x)) return String(x);
  const abs = Math.abs(x);
  if (abs >= 1e5 || abs < 1e-3) return x.toExponential(3);
  return String(Number(x.toPrecision(4)));
}

const trim = (value: number): string => {
  const text = Math.abs(value) >= 100 ? value.toFixed(1) : Number(value.toPrecision(3)).toString();
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
};

/** Width and height of a drawing from its root element's attributes. */
export function svgSize(svg: string): { width: number; height: number } {
  const root = /<svg\b[^>]*>/.exec(svg)?.[0];
  const width = root === undefined ? undefined : /\swidth="([\d.]+)"/.exec(root)?.[1];
  const height = root === undefined ? undefined : /\sheight="([\d.]+)"/.exec(root)?.[1];
  if (width === undefined || height === undefined) throw new Error('the SVG has no numeric width and height on its root element');
  return { width: Number(width), height: Number(height) };
}

/** Opens a drawing: root element with size and font (and a class, for pages to style), and a white background. */
export function svgOpen(width: number, height: number, fontSize = 11, className?: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg"${className === undefined ? '' : ` class="${className}"`} width="${coord(width)}" height="${coord(height)}" viewBox="0 0 ${coord(width)} ${coord(height)}" font-family="${FONT_FAMILY}" font-size="${fontSize}">`,
    `<rect width="${coord(width)}" height="${coord(height)}" fill="#ffffff"/>`,
  ];
}

/** Title (bold) and up to two subtitle lines at the top left; returns the height they take. */
export function titleBlock(out: string[], x: number, title: string | undefined, subtitle: readonly string[] = []): number {
  let y = 0;
  if (title) {
    out.push(`<text x="${coord(x)}" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
    y = 26;
  }
  subtitle.slice(0, 2).forEach((line, i) => {
    out.push(`<text x="${coord(x)}" y="${coord(y + 14 + 15 * i)}" font-size="11" fill="#555555">${escapeXml(line)}</text>`);
  });
  return y + 15 * Math.min(2, subtitle.length) + (title || subtitle.length > 0 ? 8 : 0);
}

/** Rough width of text at a font size (DejaVu Sans averages ~0.58 em), to size canvases to labels. */
export const textWidth = (text: string, fontSize = 11): number => text.length * fontSize * 0.6;
