/**
 * `ct export`: a run's Arrow table as CSV, JSON, JSON lines or Parquet, for tools that do not
 * read Arrow IPC (a spreadsheet, R without arrow, a Parquet-only warehouse). The table is named by
 * its file, or by a run directory and `step.port` (resolved through the step's manifest). Text
 * formats go to stdout unless `--out` names a file; Parquet needs `--out`. An existing `--out` is
 * replaced only with `--force`, and every file is written under a temporary name and renamed.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ArtifactError, ConfigError } from '@circuit-tuning/contracts';
import { readArrowTableAny, readManifest, writeFileAtomic } from '@circuit-tuning/runtime';
import { tableFromIPC, tableToIPC } from 'apache-arrow';
import { isInside, stepDir } from './run-dir';

export const EXPORT_FORMATS = ['csv', 'json', 'jsonl', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The Arrow file a `TABLE` argument names: a file, or a run directory and `step.port`. */
export async function exportSource(table: string, portRef: string | undefined): Promise<string> {
  if (portRef === undefined) {
    if (!existsSync(table)) throw new ConfigError(`${table}: no such file`, { hint: 'give an Arrow file, or a run directory and step.port (runs/default discover.edges)' });
    if (statSync(table).isDirectory()) throw new ConfigError(`${table} is a directory`, { hint: 'name the table as step.port after it: ct export runs/default discover.edges' });
    return table;
  }
  const match = /^([^.]+)\.(.+)$/.exec(portRef);
  if (match === null) throw new ConfigError(`'${portRef}' is not step.port`, { hint: 'for example discover.edges or tasks.sv_disagreement' });
  const [, step, port] = match as unknown as [string, string, string];
  const dir = stepDir(table, step);
  const manifest = await readManifest(dir);
  if (manifest === undefined) throw new ConfigError(`${table} has no step '${step}' (no ${join(dir, 'manifest.json')})`);
  const record = manifest.outputs.find((o) => o.port === port);
  if (record === undefined) throw new ConfigError(`step '${step}' has no output '${port}' (outputs: ${manifest.outputs.map((o) => o.port).join(', ')})`);
  if (record.kind !== 'arrow') throw new ConfigError(`output '${port}' of step '${step}' is a ${record.kind}, not a table`);
  const path = record.path.startsWith('/') ? record.path : join(table, record.path);
  if (!isInside(table, path)) throw new ArtifactError(path, `output '${port}' of step '${step}' does not lie inside the run directory ${table}`);
  return path;
}

/** The table in `format`: text for csv/json/jsonl, bytes for parquet. */
export async function exportTable(path: string, format: ExportFormat): Promise<{ rows: number; data: string | Uint8Array }> {
  const table = await readArrowTableAny(path);
  const names = table.fields.map((f) => f.name);
  const rows = table.numRows;
  const cell = (name: string, i: number) => (table.columns[name] as ArrayLike<unknown>)[i];
  if (format === 'parquet') return { rows, data: await parquetOf(path) };
  if (format === 'csv') {
    const lines = [names.map(csvField).join(',')];
    for (let i = 0; i < rows; i++) lines.push(names.map((n) => csvField(csvValue(cell(n, i)))).join(','));
    return { rows, data: `${lines.join('\n')}\n` };
  }
  const objects = Array.from({ length: rows }, (_, i) => Object.fromEntries(names.map((n) => [n, jsonCell(cell(n, i))])));
  if (format === 'jsonl') return { rows, data: objects.map((o) => `${JSON.stringify(o)}\n`).join('') };
  return { rows, data: `${JSON.stringify({ schema: table.schema ?? null, producer: table.producer ?? null, rows: objects })}\n` };
}

/** Writes an export to `out`, refusing to replace a file unless asked. */
export async function writeExport(out: string, data: string | Uint8Array, options: { force?: boolean } = {}): Promise<void> {
  if (existsSync(out) && !options.force) throw new ConfigError(`${out} exists; it is not replaced`, { hint: 'add --force to replace it, or give another --out' });
  await writeFileAtomic(out, data);
}

/**
 * Parquet through parquet-wasm (Arrow's own Rust writer compiled to WebAssembly), which takes the
 * table as an Arrow IPC stream: every column type, lists included, with the schema metadata.
 */
async function parquetOf(path: string): Promise<Uint8Array> {
  const parquet = createRequire(import.meta.url)('parquet-wasm/node') as {
    Table: { fromIPCStream(bytes: Uint8Array): unknown };
    writeParquet(table: unknown): Uint8Array;
  };
  const stream = tableToIPC(tableFromIPC(await readFile(path)), 'stream');
  return parquet.writeParquet(parquet.Table.fromIPCStream(stream));
}

/**
 * A table cell as JSON: JSON has no NaN or ±Infinity, so they become null (the CSV keeps them as
 * text); 64-bit integers become numbers and list cells (typed arrays) lists. The viewer sends
 * cells so too (apps/viewer/src/server.ts).
 */
export function jsonCell(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<unknown>, jsonCell);
  if (Array.isArray(value)) return value.map(jsonCell);
  return value ?? null;
}

/** A cell as CSV text: empty for null, lists as JSON arrays, numbers as JavaScript writes them. */
function csvValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return JSON.stringify(jsonCell(value));
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
