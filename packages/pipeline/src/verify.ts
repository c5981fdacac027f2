/**
 * Reproducibility check: rerun a finished run from its `pipeline.resolved.json` in another
 * directory, then compare every output's sha256 with the original manifests. Where two Arrow
 * tables differ, the columns that differ are named; columns that hold wall-clock measurements
 * (VOLATILE_COLUMNS) cannot be reproduced and are reported as such instead of as a failure; so
 * are the marked timings of a report (packages/report/src/timing.ts).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type ArtifactRecord, ConfigError } from '@circuit-tuning/contracts';
import { readArrowTableAny, readManifest, writeJsonAtomic } from '@circuit-tuning/runtime';
import { hasTimings, maskTimings } from '@circuit-tuning/report';
import { INDEX_DIR, overlaps, runDirState } from './run-dir';

/** What marks a directory as a rerun made by `verify` (and so one it may replace). */
const VERIFY_MARKER = 'verify.json';

/**
 * Makes `workDir` ready for a rerun of `runDir`. It is replaced only when it is a previous rerun
 * (its marker says so); a directory that overlaps the run, or holds anything else, is refused,
 * so verify never deletes the run it checks nor a folder it did not make.
 */
export async function prepareVerifyDir(runDir: string, workDir: string): Promise<void> {
  if (overlaps(runDir, workDir)) {
    throw new ConfigError(`--work ${workDir} overlaps the run being verified (${runDir}); the rerun would replace it`, { hint: 'give a --work directory outside the run, and not one that contains it' });
  }
  const state = await runDirState(workDir);
  if (state !== 'absent' && state !== 'empty') {
    if (!existsSync(join(workDir, INDEX_DIR, VERIFY_MARKER))) {
      throw new ConfigError(`--work ${workDir} exists and is not a rerun made by verify; nothing in it is deleted`, { hint: 'give a new or empty --work directory' });
    }
    await rm(workDir, { recursive: true, force: true });
  }
  await mkdir(join(workDir, INDEX_DIR), { recursive: true });
  await writeJsonAtomic(join(workDir, INDEX_DIR, VERIFY_MARKER), { schema: 'ct.verify.work', version: 1, of: runDir });
}

/** Table schema → columns that measure time, not results. */
export const VOLATILE_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  'ct.train.log': ['step_ms'],
};

export type OutputVerdict = 'same' | 'timing-only' | 'differs' | 'missing';

export interface OutputComparison {
  step: string;
  port: string;
  kind: string;
  verdict: OutputVerdict;
  original: string | undefined;
  rerun: string | undefined;
  /** For tables that differ: the columns whose values differ. */
  columns?: string[];
}

export async function compareRuns(originalDir: string, rerunDir: string, steps: readonly string[]): Promise<OutputComparison[]> {
  const out: OutputComparison[] = [];
  for (const step of steps) {
    const a = await readManifest(join(originalDir, step));
    const b = await readManifest(join(rerunDir, step));
    const ports = [...new Set([...(a?.outputs ?? []), ...(b?.outputs ?? [])].map((o) => o.port))].sort();
    for (const port of ports) {
      const ra = a?.outputs.find((o) => o.port === port);
      const rb = b?.outputs.find((o) => o.port === port);
      const base = { step, port, kind: (ra ?? rb)?.kind ?? '?', original: ra?.sha256, rerun: rb?.sha256 };
      if (ra === undefined || rb === undefined) out.push({ ...base, verdict: 'missing' });
      else if (ra.sha256 === rb.sha256) out.push({ ...base, verdict: 'same' });
      else if (ra.kind === 'arrow' && rb.kind === 'arrow') out.push({ ...base, ...(await compareTables(ra, rb, originalDir, rerunDir)) });
      else if (ra.kind === 'file' && rb.kind === 'file') out.push({ ...base, verdict: await compareTexts(ra, rb, originalDir, rerunDir) });
      else out.push({ ...base, verdict: 'differs' });
    }
  }
  return out;
}

async function compareTables(a: ArtifactRecord, b: ArtifactRecord, dirA: string, dirB: string): Promise<{ verdict: OutputVerdict; columns: string[] }> {
  const ta = await readArrowTableAny(a.path.startsWith('/') ? a.path : join(dirA, a.path));
  const tb = await readArrowTableAny(b.path.startsWith('/') ? b.path : join(dirB, b.path));
  const names = [...new Set([...ta.fields.map((f) => f.name), ...tb.fields.map((f) => f.name)])];
  const differing = names.filter((name) => !sameColumn(ta.columns[name], tb.columns[name]));
  const metadataDiffers = JSON.stringify(Object.entries(ta.metadata).sort()) !== JSON.stringify(Object.entries(tb.metadata).sort());
  if (metadataDiffers) differing.push('(schema metadata)');
  if (ta.numRows !== tb.numRows) differing.push('(row count)');
  const volatile = VOLATILE_COLUMNS[a.schema ?? ''] ?? [];
  const verdict: OutputVerdict = differing.length > 0 && differing.every((c) => volatile.includes(c)) ? 'timing-only' : 'differs';
  return { verdict, columns: differing };
}

/** A report (HTML, Markdown) that differs only in its marked timings is the same report. */
async function compareTexts(a: ArtifactRecord, b: ArtifactRecord, dirA: string, dirB: string): Promise<OutputVerdict> {
  if (a.bytes > MAX_TEXT_BYTES || b.bytes > MAX_TEXT_BYTES) return 'differs';
  const ta = await readFile(a.path.startsWith('/') ? a.path : join(dirA, a.path), 'utf8');
  const tb = await readFile(b.path.startsWith('/') ? b.path : join(dirB, b.path), 'utf8');
  return hasTimings(ta) && maskTimings(ta) === maskTimings(tb) ? 'timing-only' : 'differs';
}

const MAX_TEXT_BYTES = 64 * 1024 * 1024;

function sameColumn(a: ArrayLike<unknown> | undefined, b: ArrayLike<unknown> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    if (JSON.stringify(x) !== JSON.stringify(y)) return false;
  }
  return true;
}

/** A plain-text table of the comparison. */
export function formatComparison(rows: readonly OutputComparison[]): string {
  const widths = [Math.max(4, ...rows.map((r) => r.step.length)), Math.max(6, ...rows.map((r) => r.port.length))];
  const lines = [`${'step'.padEnd(widths[0] as number)}  ${'output'.padEnd(widths[1] as number)}  result`];
  for (const r of rows) {
    const detail =
      r.verdict === 'same'
        ? `same (${(r.original ?? '').slice(0, 12)})`
        : r.verdict === 'timing-only'
          ? r.columns === undefined
            ? 'same except its timings'
            : `same except timing column ${r.columns.join(', ')}`
          : r.verdict === 'missing'
            ? `missing in ${r.original === undefined ? 'the original' : 'the rerun'}`
            : `DIFFERS${r.columns ? ` in ${r.columns.join(', ')}` : ''} (${(r.original ?? '').slice(0, 12)} vs ${(r.rerun ?? '').slice(0, 12)})`;
    lines.push(`${r.step.padEnd(widths[0] as number)}  ${r.port.padEnd(widths[1] as number)}  ${detail}`);
  }
  return `${lines.join('\n')}\n`;
}
