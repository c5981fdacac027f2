/**
 * Reading Arrow IPC files back with their contract checked: the file must say (in its schema
 * metadata) that it holds the expected table and version, and every declared column must be there
 * with the declared type. Errors name the file and the column, so a mismatch between two stages
 * reads as a sentence rather than as a NaN three stages later.
 */
import {
  ArtifactError,
  type ColumnsOf,
  ContractError,
  type FieldSpec,
  TABLE_META_PRODUCER,
  TABLE_META_SCHEMA,
  TABLE_META_SCHEMA_VERSION,
  type TableSchema,
} from '@circuit-tuning/contracts';
import { type Table, tableFromIPC, type Vector } from 'apache-arrow';
import { sha256Bytes } from '../fs/hash';
import { readArtifactBytes } from '../fs/read-file';
import { describeArrowType, fieldTypeOf } from './arrow-types';

/** What a file's schema metadata says about it. */
export interface TableMetadata {
  schema: string;
  schemaVersion: number;
  producer: string;
  /** Every other metadata key, as written. */
  extra: Record<string, string>;
}

export interface ArrowTable<S extends TableSchema = TableSchema> {
  schema: S;
  metadata: TableMetadata;
  numRows: number;
  columns: ColumnsOf<S>;
}

export interface ArrowFieldInfo {
  name: string;
  /** Contract type name where it is one (`float32`), Arrow's name otherwise. */
  type: string;
  nullable: boolean;
}

/** A table read without a contract, for tools (`ct inspect`, the viewer) and runners. */
export interface RawArrowTable {
  /** From the metadata; undefined when the file was not written by a contract-aware writer. */
  schema: string | undefined;
  schemaVersion: number | undefined;
  producer: string | undefined;
  metadata: Record<string, string>;
  numRows: number;
  fields: ArrowFieldInfo[];
  /** Numeric columns without nulls as typed arrays; others as arrays with nulls and nested arrays. */
  columns: Record<string, ArrayLike<unknown>>;
}

/** Facts a manifest records about an Arrow file, from one read of its bytes. */
export interface ArrowFileInfo {
  schema: string | undefined;
  schemaVersion: number | undefined;
  producer: string | undefined;
  numRows: number;
  fields: ArrowFieldInfo[];
  bytes: number;
  sha256: string;
}

const MAGIC = 'ARROW1';

export async function readArrowTable<S extends TableSchema>(path: string, schema: S): Promise<ArrowTable<S>> {
  return decodeArrowTable(await readArtifactBytes(path), schema, path);
}

/** Decodes IPC file bytes against a schema; `source` names them in errors. */
export function decodeArrowTable<S extends TableSchema>(bytes: Uint8Array, schema: S, source = '<memory>'): ArrowTable<S> {
  const table = parseIpcFile(bytes, source);
  const metadata = checkMetadata(table, schema, source);
  const columns: Record<string, unknown> = {};
  for (const field of schema.fields) columns[field.name] = readColumn(table, field, schema, source);
  return { schema, metadata, numRows: table.numRows, columns: columns as ColumnsOf<S> };
}

export async function readArrowTableAny(path: string): Promise<RawArrowTable> {
  const table = parseIpcFile(await readArtifactBytes(path), path);
  const columns: Record<string, ArrayLike<unknown>> = {};
  for (const field of table.schema.fields) {
    const vector = table.getChild(field.name);
    if (vector !== null) columns[field.name] = plainColumn(vector);
  }
  const metadata = Object.fromEntries(table.schema.metadata);
  return { ...describeTable(table), metadata, columns };
}

export async function inspectArrowFile(path: string): Promise<ArrowFileInfo> {
  return inspectArrowBytes(await readArtifactBytes(path), path);
}

/** Metadata, row count and hash of IPC file bytes, without converting any column. */
export function inspectArrowBytes(bytes: Uint8Array, source = '<memory>'): ArrowFileInfo {
  const table = parseIpcFile(bytes, source);
  return { ...describeTable(table), bytes: bytes.byteLength, sha256: sha256Bytes(bytes) };
}


function parseIpcFile(bytes: Uint8Array, source: string): Table {
  if (bytes.length === 0) {
    throw new ArtifactError(source, 'is empty', { hint: 'the writer was probably interrupted; rerun the stage that produced it' });
  }
  const head = ascii(bytes.subarray(0, MAGIC.length));
  const tail = ascii(bytes.subarray(Math.max(0, bytes.length - MAGIC.length)));
  if (head !== MAGIC) {
    // 0xFFFFFFFF is the continuation marker that opens an IPC stream message.
    const isStream = bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xff && bytes[2] === 0xff && bytes[3] === 0xff;
    throw new ArtifactError(source, isStream ? 'is an Arrow IPC stream, not an Arrow IPC file' : 'is not an Arrow IPC file', {
      hint: isStream ? 'write it with the file format (pyarrow.ipc.new_file, tableToIPC(t, "file"))' : undefined,
    });
  }
  if (tail !== MAGIC || bytes.length < 2 * MAGIC.length + 4) {
    throw new ArtifactError(source, 'is truncated: the Arrow file footer is missing', {
      hint: 'the writer was probably interrupted; rerun the stage that produced it',
    });
  }
  try {
    return tableFromIPC(bytes);
  } catch (error) {
    throw new ArtifactError(source, `is a corrupt Arrow IPC file (${(error as Error).message})`, { cause: error });
  }
}

/**
 * Checks what a file says it holds against the expected schema. Shared by full reads and by the
 * runner's cheaper input check, so both word a mismatch the same way.
 */
export function assertTableSchema(
  found: { schema: string | undefined; schemaVersion: number | undefined },
  expected: TableSchema,
  source: string,
): void {
  if (found.schema === undefined) {
    throw new ContractError(`file ${source} has no '${TABLE_META_SCHEMA}' metadata, so it cannot be checked as table '${expected.name}'`, {
      hint: `write it with writeArrowTable, or set schema metadata ${TABLE_META_SCHEMA}=${expected.name} and ${TABLE_META_SCHEMA_VERSION}=${expected.version}`,
    });
  }
  if (found.schema !== expected.name) {
    throw new ContractError(`file ${source} holds table '${found.schema}' but '${expected.name}' was expected`, {
      hint: 'check which output port of which stage this input is wired to',
    });
  }
  if (found.schemaVersion !== expected.version) {
    throw new ContractError(
      `file ${source} holds table '${found.schema}' version ${found.schemaVersion ?? '(none)'} but version ${expected.version} was expected`,
      { hint: 'the producer and this reader come from different releases; rerun the producing stage' },
    );
  }
}

function checkMetadata(table: Table, schema: TableSchema, source: string): TableMetadata {
  const info = describeTable(table);
  assertTableSchema(info, schema, source);
  const extra: Record<string, string> = {};
  for (const [key, value] of table.schema.metadata) {
    if (key !== TABLE_META_SCHEMA && key !== TABLE_META_SCHEMA_VERSION && key !== TABLE_META_PRODUCER) extra[key] = value;
  }
  return { schema: schema.name, schemaVersion: schema.version, producer: info.producer ?? '', extra };
}

function readColumn(table: Table, field: FieldSpec, schema: TableSchema, source: string): unknown {
  const where = `file ${source} (table '${schema.name}')`;
  const arrowField = table.schema.fields.find((candidate) => candidate.name === field.name);
  const vector = table.getChild(field.name);
  if (arrowField === undefined || vector === null) {
    throw new ContractError(`${where}: column '${field.name}' is missing`, {
      hint: `found columns: ${table.schema.fields.map((f) => f.name).join(', ') || '(none)'}`,
    });
  }
  if (fieldTypeOf(arrowField.type) !== field.type) {
    throw new ContractError(`${where}: column '${field.name}' has type ${describeArrowType(arrowField.type)} but ${field.type} was expected`);
  }
  // Checked on the data, not the declared flag: pyarrow declares every field nullable by default.
  if (!field.nullable && vector.nullCount > 0) {
    throw new ContractError(`${where}: column '${field.name}' holds ${vector.nullCount} nulls but is not nullable`);
  }
  const isList = field.type.startsWith('list<');
  if (isList && vector.data.some((data) => (data.children[0]?.nullCount ?? 0) > 0)) {
    throw new ContractError(`${where}: column '${field.name}' has null list items; lists hold numbers only`);
  }
  if (!field.nullable && !isList) return denseCopy(field, vector);
  const out: unknown[] = new Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = plainValue(vector.get(i));
  return out;
}

/** Copies out of the file's buffer: callers own their arrays and may mutate them. */
function denseCopy(field: FieldSpec, vector: Vector): unknown {
  const values = vector.toArray() as ArrayLike<unknown>;
  switch (field.type) {
    case 'float32':
      return Float32Array.from(values as ArrayLike<number>);
    case 'float64':
      return Float64Array.from(values as ArrayLike<number>);
    case 'int32':
      return Int32Array.from(values as ArrayLike<number>);
    case 'int64':
      return BigInt64Array.from(values as ArrayLike<bigint>);
    default:
      return Array.from(values);
  }
}

function plainColumn(vector: Vector): ArrayLike<unknown> {
  const values = vector.nullCount === 0 ? (vector.toArray() as ArrayLike<unknown>) : undefined;
  if (values !== undefined && ArrayBuffer.isView(values)) return (values as unknown as Float64Array).slice();
  const out: unknown[] = new Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = plainValue(vector.get(i));
  return out;
}

/** Nested Arrow values (list cells, struct rows) as plain arrays and objects. */
function plainValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>);
  if (typeof (value as { toArray?: unknown }).toArray === 'function') {
    return Array.from((value as Vector).toArray() as ArrayLike<unknown>, plainValue);
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return (value as { toJSON: () => unknown }).toJSON();
  return value;
}

function describeTable(table: Table): Omit<ArrowFileInfo, 'bytes' | 'sha256'> {
  const meta = table.schema.metadata;
  const version = meta.get(TABLE_META_SCHEMA_VERSION);
  // A version that is not an integer is reported as absent rather than as NaN.
  return {
    schema: meta.get(TABLE_META_SCHEMA),
    schemaVersion: version !== undefined && /^\d+$/.test(version) ? Number(version) : undefined,
    producer: meta.get(TABLE_META_PRODUCER),
    numRows: table.numRows,
    fields: table.schema.fields.map((field) => ({
      name: field.name,
      type: describeArrowType(field.type),
      nullable: field.nullable,
    })),
  };
}

function ascii(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}
