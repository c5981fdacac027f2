import { type StageLogger, writeFileAtomic } from '@circuit-tuning/runtime';
import { svgToPng } from './png';

/**
 * Writes a drawing as SVG and, when asked, as PNG (rendered by resvg, ./png.ts). The PNG
 * is a convenience: where resvg has no binary, a warning is logged and the SVG still stands.
 * Returns whether the PNG was written.
 */
export async function writeFigure(svg: string, paths: { svg?: string | undefined; png?: string | undefined }, options: { logger?: StageLogger; scale?: number } = {}): Promise<boolean> {
  if (paths.svg) await writeFileAtomic(paths.svg, svg);
  if (!paths.png) return false;
  try {
    await writeFileAtomic(paths.png, await svgToPng(svg, options.scale === undefined ? {} : { scale: options.scale }));
    return true;
  } catch (error) {
    options.logger?.warn(`no PNG drawing: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  }
}
