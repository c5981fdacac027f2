import { RuntimeError } from '@circuit-tuning/contracts';

/**
 * Renders an SVG to PNG with resvg (`@resvg/resvg-js`: prebuilt binaries in per-platform npm
 * packages, no install script). Loaded on first use, so a platform without a binary loses the PNG,
 * not the package. Text uses the system's fonts (DejaVu Sans where present).
 */
export async function svgToPng(svg: string, options: { scale?: number } = {}): Promise<Uint8Array> {
  let Resvg: typeof import('@resvg/resvg-js').Resvg;
  try {
    ({ Resvg } = await import('@resvg/resvg-js'));
  } catch (error) {
    throw new RuntimeError('PNG rendering is unavailable: @resvg/resvg-js has no binary for this platform', {
      cause: error,
      hint: 'the SVG drawing is still written; convert it with any SVG tool',
    });
  }
  const renderer = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: options.scale ?? 2 },
    background: '#ffffff',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return renderer.render().asPng();
}
