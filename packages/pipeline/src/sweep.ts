/**
 * Sweeps: a grid over pipeline settings (`discover.config.selection.n: [100, 300]`, `seed: [1, 2]`,
 * `discover.variant: [eap, eap-ig]`), each trial a full pipeline run in its own run directory,
 * run as child processes under a concurrency limit, and summarised in one table. The first trial
 * runs alone; the others then copy the steps they share with it (same stage, config, seed and
 * input bytes) instead of recomputing them (`run --reuse-from`).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@circuit-tuning/contracts';
import { isTempName, readManifest, type StageRegistry, writeFileAtomic, writeJsonAtomic } from '@circuit-tuning/runtime';
import { parse as parseYamlValue } from 'yaml';
import { parseOverride } from './overrides';
import { isResolvedPipeline, loadPipeline, RESOLVED_FILE } from './resolve';
import { runDirState } from './run-dir';
import { RUN_STATUS_FILE } from './runner';
import { isRecord } from './spec';
import type { YamlSource } from './yaml-source';

export interface GridAxis {
  key: string;
  values: unknown[];
}

export interface SweepSpec {
  pipeline: string;
  grid: GridAxis[];
  /** `--set` overrides every trial gets. */
  set: string[];
  concurrency: number;
  /** Metric name patterns (`discover.faithfulness`, `train-*.finalLoss`); all when empty. */
  metrics: string[];
}

export const SWEEP_KEYS = ['pipeline', 'grid', 'set', 'concurrency', 'metrics'] as const;

/** Whether a YAML document is a sweep file (it names a pipeline and a grid). */
export function isSweepDocument(value: unknown): boolean {
  return isRecord(value) && 'pipeline' in value && 'grid' in value;
}

/** Reads a sweep file; paths are relative to it. */
export function parseSweep(source: YamlSource, resolvePath: (path: string) => string): SweepSpec {
  const doc = source.value as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(doc)) {
    if (!(SWEEP_KEYS as readonly string[]).includes(key)) problems.push(`${source.where([key], { key: true })}: unknown key '${key}' (valid: ${SWEEP_KEYS.join(', ')})`);
  }
  if (typeof doc.pipeline !== 'string') problems.push(`${source.where(['pipeline'])}: 'pipeline' is the path of a pipeline file`);
  const grid: GridAxis[] = [];
  if (!isRecord(doc.grid)) problems.push(`${source.where(['grid'])}: 'grid' maps setting keys to lists of values`);
  else {
    for (const [key, values] of Object.entries(doc.grid)) {
      if (!Array.isArray(values) || values.length === 0) problems.push(`${source.where(['grid', key])}: grid '${key}' needs a non-empty list of values`);
      else grid.push({ key, values });
    }
  }
  const set = doc.set === undefined ? [] : isRecord(doc.set) ? Object.entries(doc.set).map(([k, v]) => `${k}=${JSON.stringify(v)}`) : doc.set;
  if (!Array.isArray(set) || !set.every((s) => typeof s === 'string')) problems.push(`${source.where(['set'])}: 'set' is a list of KEY=VALUE or a mapping`);
  const concurrency = doc.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || (concurrency as number) < 1) problems.push(`${source.where(['concurrency'])}: 'concurrency' is a positive integer`);
  const metrics = doc.metrics ?? [];
  if (!Array.isArray(metrics) || !metrics.every((m) => typeof m === 'string')) problems.push(`${source.where(['metrics'])}: 'metrics' is a list of patterns`);
  if (problems.length > 0) throw new ConfigError(problems.join('\n  '));
  return { pipeline: resolvePath(doc.pipeline as string), grid, set: set as string[], concurrency: concurrency as number, metrics: metrics as string[] };
}

/** `--grid KEY=V1,V2,...`: values split at commas and read as YAML. */
export function parseGridOption(text: string): GridAxis {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--grid '${text}': expected KEY=V1,V2,...`, { hint: 'for example --grid seed=1,2,3 --grid discover.variant=eap,eap-ig' });
  const values = text
    .slice(eq + 1)
    .split(',')
    .map((v) => parseYamlValue(v.trim()) as unknown);
  return { key: text.slice(0, eq).trim(), values };
}

export interface Trial {
  name: string;
  values: Record<string, unknown>;
  runDir: string;
}

/** Every combination, the first axis varying slowest. */
export function expandGrid(grid: readonly GridAxis[], sweepDir: string): Trial[] {
  let combos: Record<string, unknown>[] = [{}];
  for (const axis of grid) combos = combos.flatMap((c) => axis.values.map((v) => ({ ...c, [axis.key]: v })));
  const width = String(combos.length).length;
  return combos.map((values, i) => {
    const slug = Object.entries(values)
      .map(([k, v]) => `${k.split('.').pop()}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join('_')
      .replace(/[^A-Za-z0-9=._-]+/g, '-')
      .slice(0, 80);
    const name = `${String(i + 1).padStart(width, '0')}${slug ? `-${slug}` : ''}`;
    return { name, values, runDir: join(sweepDir, name) };
  });
}

export interface TrialResult extends Trial {
  status: string;
  exitCode: number | null;
  durationMs: number;
  metrics: Record<string, string | number | boolean | null>;
  error?: string;
  /** The machine the trial ran on, and its compute backend. */
  host?: string;
  backend?: string;
  /** Deliveries of its job (the queue executor; 1 unless a worker died or it failed and was retried). */
  attempts?: number;
}

export interface RunTrialsOptions {
  pipeline: string;
  set: readonly string[];
  sweepDir: string;
  concurrency: number;
  /**
   * The command that runs one pipeline, before its `run` arguments (node's arguments, e.g. tsx's CLI
   * and the app's main file): each trial is a child process, so a crash or a kill stays in its trial.
   */
  command: readonly string[];
  /** Extra arguments for every `run` (e.g. --backend). */
  args?: readonly string[];
  onStart?(trial: Trial, index: number): void;
  onEnd?(result: TrialResult, index: number): void;
  signal?: AbortSignal;
}

/** Runs the trials: the first alone, the rest `concurrency` at a time. */
export async function runTrials(trials: readonly Trial[], options: RunTrialsOptions): Promise<TrialResult[]> {
  await mkdir(options.sweepDir, { recursive: true });
  const results: TrialResult[] = new Array(trials.length);
  const runOne = async (index: number) => {
    const trial = trials[index] as Trial;
    options.onStart?.(trial, index);
    const result = await runTrial(trial, options);
    results[index] = result;
    options.onEnd?.(result, index);
  };
  if (trials.length > 0) await runOne(0);
  let next = 1;
  const workers = Array.from({ length: Math.min(options.concurrency, Math.max(0, trials.length - 1)) }, async () => {
    while (next < trials.length && options.signal?.aborted !== true) await runOne(next++);
  });
  await Promise.all(workers);
  return results.filter((r) => r !== undefined);
}

/** The `--set` overrides of a trial: the sweep's, then its grid values (later ones win). */
export function trialSets(set: readonly string[], trial: Trial): string[] {
  return [...set, ...Object.entries(trial.values).map(([k, v]) => `${k}=${JSON.stringify(v)}`)];
}

/**
 * Resolves every trial's pipeline (its overrides applied, every step checked against the stage
 * registry) before any trial runs, so that a sweep with a bad grid key or value fails at once,
 * with each problem in full and the trials it concerns, instead of after the first trial.
 */
export async function validateTrials(pipeline: string, set: readonly string[], trials: readonly Trial[], registry: StageRegistry): Promise<void> {
  const problems = new Map<string, string[]>();
  for (const trial of trials) {
    try {
      await loadPipeline(pipeline, { registry, overrides: trialSets(set, trial).map(parseOverride) });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const text = `${error.message}${error.hint ? `\n  hint: ${error.hint}` : ''}`;
      problems.set(text, [...(problems.get(text) ?? []), trial.name]);
    }
  }
  if (problems.size === 0) return;
  const lines = [...problems].map(([text, names]) => `trial${names.length > 1 ? 's' : ''} ${names.join(', ')}: ${text}`);
  throw new ConfigError(`${problems.size === 1 && trials.length > 1 ? 'the sweep\'s trials do' : 'the sweep does'} not resolve; nothing was run:\n${lines.join('\n')}`, {
    hint: 'grid keys are written as for run --set (step.config.key, step.variant, seed); see `ct run PIPELINE --dry-run`',
  });
}

async function runTrial(trial: Trial, options: RunTrialsOptions): Promise<TrialResult> {
  const sets = trialSets(options.set, trial);
  const args = [
    ...options.command,
    'run',
    options.pipeline,
    '--run-dir',
    trial.runDir,
    '--quiet',
    '--reuse-from',
    options.sweepDir,
    ...sets.flatMap((s) => ['--set', s]),
    ...(options.args ?? []),
  ];
  const started = performance.now();
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolvePromise) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      err = (err + chunk).slice(-4000);
    });
    const onAbort = () => child.kill('SIGTERM');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('close', (exit) => {
      options.signal?.removeEventListener('abort', onAbort);
      resolvePromise({ code: exit, stderr: err });
    });
  });
  const durationMs = Math.round(performance.now() - started);
  const { status, backend } = await runStatus(trial.runDir);
  const errorLine = stderr
    .split('\n')
    .filter((l) => l.startsWith('error:'))
    .pop();
  return {
    ...trial,
    status: code === 0 ? 'succeeded' : (status ?? 'failed'),
    exitCode: code,
    durationMs,
    metrics: await collectMetrics(trial.runDir),
    host: hostname(),
    ...(backend === undefined ? {} : { backend }),
    ...(code === 0 ? {} : { error: errorLine ?? stderr.trim().split('\n').pop() ?? `exit ${code}` }),
  };
}

async function runStatus(runDir: string): Promise<{ status?: string; backend?: string }> {
  try {
    const run = JSON.parse(await readFile(join(runDir, RUN_STATUS_FILE), 'utf8')) as { status?: string; backend?: { name?: string } };
    return { ...(run.status === undefined ? {} : { status: run.status }), ...(typeof run.backend?.name === 'string' ? { backend: run.backend.name } : {}) };
  } catch {
    return {};
  }
}

/** `step.key` → value for every scalar in every step's manifest summary; nested objects as `step.key.inner`. */
export async function collectMetrics(runDir: string): Promise<Record<string, string | number | boolean | null>> {
  const metrics: Record<string, string | number | boolean | null> = {};
  const resolvedPath = join(runDir, RESOLVED_FILE);
  if (!existsSync(resolvedPath)) return metrics;
  const resolved: unknown = JSON.parse(await readFile(resolvedPath, 'utf8'));
  if (!isResolvedPipeline(resolved)) return metrics;
  for (const step of resolved.steps) {
    const manifest = await readManifest(join(runDir, step.id)).catch(() => undefined);
    const add = (prefix: string, value: unknown) => {
      if (value === null || typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') metrics[prefix] = value;
      else if (isRecord(value)) for (const [key, inner] of Object.entries(value)) add(`${prefix}.${key}`, inner);
    };
    for (const [key, value] of Object.entries(manifest?.summary ?? {})) add(`${step.id}.${key}`, value);
  }
  return metrics;
}

/** Metric names matching any pattern (`*` matches anything); every name when there are none. */
export function selectMetrics(names: readonly string[], patterns: readonly string[]): string[] {
  if (patterns.length === 0) return [...names];
  const regexes = patterns.map((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`));
  return names.filter((name) => regexes.some((r) => r.test(name)));
}

export interface SweepTable {
  columns: string[];
  rows: (string | number | boolean | null)[][];
}

/**
 * One row per trial: its name, grid values, status, time, where it ran (host, backend; unless
 * `where` is false, as in the terminal's table of a local sweep) and the chosen metrics.
 */
export function sweepTable(results: readonly TrialResult[], grid: readonly GridAxis[], metrics: readonly string[], options: { where?: boolean } = {}): SweepTable {
  const where = options.where !== false;
  const columns = ['trial', ...grid.map((g) => g.key), 'status', 'seconds', ...(where ? ['host', 'backend'] : []), ...metrics];
  const rows = results.map((r) => [
    r.name,
    ...grid.map((g) => (r.values[g.key] === undefined ? null : typeof r.values[g.key] === 'object' ? JSON.stringify(r.values[g.key]) : (r.values[g.key] as string | number | boolean))),
    r.status,
    Math.round(r.durationMs / 100) / 10,
    ...(where ? [r.host ?? null, r.backend ?? null] : []),
    ...metrics.map((m) => r.metrics[m] ?? null),
  ]);
  return { columns, rows };
}

/** Metrics whose value is not the same in every trial (what a terminal table shows). */
export function varyingMetrics(results: readonly TrialResult[], metrics: readonly string[]): string[] {
  return metrics.filter((m) => new Set(results.map((r) => JSON.stringify(r.metrics[m] ?? null))).size > 1);
}

export function tableMarkdown(table: SweepTable): string {
  const cell = (v: string | number | boolean | null) =>
    v === null ? '–' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)))) : String(v).replaceAll('|', '\\|');
  return [`| ${table.columns.join(' | ')} |`, `| ${table.columns.map(() => '---').join(' | ')} |`, ...table.rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

/** What a sweep writes at the top of its directory, besides one run directory per trial. */
const SWEEP_FILES = ['sweep.json', 'sweep.md', 'sweep.tsv'];

/** Refuses a sweep directory that holds anything a sweep does not write (run.ts's rule for run directories, one level up). */
export async function checkSweepDir(sweepDir: string): Promise<void> {
  const entries = await readdir(sweepDir, { withFileTypes: true }).catch(() => []);
  const foreign: string[] = [];
  for (const entry of entries) {
    if (entry.isFile() && (SWEEP_FILES.includes(entry.name) || isTempName(entry.name))) continue;
    if (entry.isDirectory() && ['run', 'empty'].includes(await runDirState(join(sweepDir, entry.name)))) continue;
    foreign.push(entry.name);
  }
  if (foreign.length > 0) {
    throw new ConfigError(`${sweepDir} exists and holds what a sweep did not write (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''}); nothing in it is overwritten or deleted`, {
      hint: 'give a new or empty --out directory',
    });
  }
}

export async function writeSweepFiles(sweepDir: string, spec: { pipeline: string; grid: readonly GridAxis[] }, results: readonly TrialResult[], metrics: readonly string[]): Promise<void> {
  const table = sweepTable(results, spec.grid, metrics);
  const [json, markdown, tsvFile] = SWEEP_FILES as [string, string, string];
  await writeJsonAtomic(join(sweepDir, json), { pipeline: spec.pipeline, grid: spec.grid, metrics, trials: results });
  await writeFileAtomic(join(sweepDir, markdown), `# Sweep of ${spec.pipeline}\n\n${tableMarkdown(table)}\n`);
  const tsv = [table.columns.join('\t'), ...table.rows.map((r) => r.map((v) => (v === null ? '' : String(v))).join('\t'))].join('\n');
  await writeFileAtomic(join(sweepDir, tsvFile), `${tsv}\n`);
}
