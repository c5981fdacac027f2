/**
 * Wall-clock measurements in a report (a training step's time). They are the only values that
 * differ between two runs of the same pipeline, a killed-and-resumed one included, so they are
 * written in one recognisable form, and `maskTimings` blanks them: two reports are the same
 * report when their masked texts are equal (the test of resumption and `verify` compare so).
 */
import { escapeXml } from '@circuit-tuning/viz';

const TIMING = /<span class="timing">[^<]*<\/span>/g;

/** A timing as it appears in the HTML and the Markdown (inline HTML is valid in a Markdown table). */
export function timingCell(text: string): string {
  return `<span class="timing">${escapeXml(text)}</span>`;
}

/** The text with every timing replaced by the same placeholder. */
export function maskTimings(text: string): string {
  return text.replace(TIMING, '<span class="timing">…</span>');
}

/** Whether a text holds timings at all. */
export function hasTimings(text: string): boolean {
  return new RegExp(TIMING.source).test(text);
}
