/**
 * What a manifest records about each input and output: sha256, size, and for tables the schema and
 * row count. Recording also checks the artifact against its port (inputs before the run, so a
 * miswired pipeline fails before any work; outputs after, so a stage cannot leave a table that
 * breaks the next one).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, sep } from 'node:path';
import { type ArtifactRecord, ArtifactError, ContractError } from '@circuit-tuning/contracts';
import { assertTableSchema, decodeArrowTable, inspectArrowBytes } from '../arrow/read';
import { sha256Bytes, sha256File, sha256Tree } from '../fs/hash';
import { unreadableFile } from '../fs/read-file';
import type { ZodType } from 'zod';
import { manifestPath, readManifest } from './manifest-io';
import type { PortSpec } from './ports';

export interface RecordArtifactOptions {
  port: string;
  spec: PortSpec;
  /** Absolute path of the artifact. */
  path: string;
  /** Paths inside it are recorded relative to it. */
  runDir: string;
  /** `full` reads every column of a table against its schema; `metadata` checks only what the file says it holds. */
  check: 'metadata' | 'full';
}

export async function recordArtifact(options: RecordArtifactOptions): Promise<ArtifactRecord> {
  const { port, spec, path } = options;
  const base = { port, kind: spec.kind, path: pathForManifest(path, options.runDir) };
  const info = await stat(path).catch((error: unknown) => {
    throw unreadableFile(path, error);
  });
  if (spec.kind === 'model-dir') {
    if (!info.isDirectory()) throw new ArtifactError(path, `is not a directory (port '${port}' takes a model directory)`);
    const tree = await sha256Tree(path);
    return { ...base, sha256: tree.sha256, bytes: tree.bytes };
  }
  if (!info.isFile()) throw new ArtifactError(path, `is not a file (port '${port}' takes a ${spec.kind} file)`);
  if (spec.kind === 'file') return { ...base, sha256: await sha256File(path), bytes: info.size };
  const bytes = await readFile(path);
  if (spec.kind === 'arrow') {
    const table = inspectArrowBytes(bytes, path);
    if (options.check === 'full') decodeArrowTable(bytes, spec.schema, path);
    else assertTableSchema(table, spec.schema, path);
    return { ...base, sha256: table.sha256, bytes: table.bytes, rows: table.numRows, schema: spec.schema.name, schemaVersion: spec.schema.version };
  }
  checkJson(port, spec.schema, bytes, path);
  return { ...base, sha256: sha256Bytes(bytes), bytes: bytes.byteLength };
}

/**
 * An input that a stage wrote is checked against the sha256 that stage recorded in the
 * manifest.json beside it: a file corrupted or edited after it was written is refused, not used.
 * (A pipeline's cache compares hashes too; this covers a file handed to a stage directly.)
 * Output names are unique within a stage directory, so the base name identifies the record.
 */
export async function checkAgainstProducer(path: string, record: ArtifactRecord): Promise<void> {
  const stageDir = dirname(path);
  const manifest = await readManifest(stageDir).catch(() => undefined);
  const recorded = manifest?.outputs.find((output) => basename(output.path) === basename(path));
  if (manifest === undefined || recorded === undefined || recorded.sha256 === record.sha256) return;
  throw new ArtifactError(
    path,
    `differs from what ${manifest.stage.slot}:${manifest.stage.variant} wrote (sha256 ${record.sha256.slice(0, 12)}, but ${manifestPath(stageDir)} records ${recorded.sha256.slice(0, 12)}): it was corrupted or edited since`,
    { hint: 'rerun the stage that wrote it; to use an edited copy on purpose, put it outside that stage directory' },
  );
}

/** Current sha256 of an artifact, or undefined when it is gone; for checking a cached run is intact. */
export async function currentSha256(spec: PortSpec, path: string): Promise<string | undefined> {
  try {
    return spec.kind === 'model-dir' ? (await sha256Tree(path)).sha256 : await sha256File(path);
  } catch {
    return undefined;
  }
}

/** Relative to the run directory when inside it (so a run directory can be moved), absolute otherwise. */
export function pathForManifest(path: string, runDir: string): string {
  const rel = relative(runDir, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return path;
  return rel.split(sep).join('/');
}

function checkJson(port: string, schema: ZodType | undefined, bytes: Uint8Array, path: string): void {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new ArtifactError(path, `is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (schema === undefined) return;
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
    throw new ContractError(`file ${path} (port '${port}') does not match its JSON schema\n  ${issues.join('\n  ')}`);
  }
}
