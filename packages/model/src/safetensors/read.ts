/**
 * Reading safetensors files into typed arrays. Each tensor is read straight from the file into the
 * typed array it is returned in (or into a small staging array for F16/BF16/F64 and narrow ints),
 * so a 500 MB checkpoint costs its decoded size in memory, with no whole-file Buffer and no
 * alignment trouble: an offset that is not a multiple of 4 in the file does not matter when the
 * destination is a fresh, aligned array.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { endianness } from 'node:os';
import { ArtifactError, RuntimeError } from '@circuit-tuning/contracts';
import { type FloatDType, type IntDType, isFloatDType } from './dtypes';
import { bf16BitsToF32, f16BitsToF32 } from './half';
import { type SafetensorsHeader, type TensorEntry, parseHeader, parseHeaderLength } from './header';

export interface FloatTensor {
  readonly dtype: FloatDType;
  readonly shape: number[];
  readonly data: Float32Array;
}

export interface IntTensor {
  readonly dtype: IntDType;
  readonly shape: number[];
  readonly data: Int32Array;
}

/** A decoded tensor: floats (any width) as Float32Array, integers and BOOL as Int32Array. */
export type SafetensorsTensor = FloatTensor | IntTensor;

export interface SafetensorsFile {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors in file order, keyed by their name in the file (Hugging Face parameter names). */
  readonly tensors: Map<string, SafetensorsTensor>;
}

export interface ReadSafetensorsOptions {
  /** Read only these tensors; a name that is not in the file is an error. Default: all. */
  readonly names?: readonly string[];
}

/** Reads and validates only the header: names, dtypes, shapes, offsets and metadata. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const fh = await openForRead(path);
  try {
    return await readHeader(fh, path);
  } finally {
    await fh.close();
  }
}

/** Reads a safetensors file (or some of its tensors) into Float32Array / Int32Array data. */
export async function readSafetensors(path: string, options: ReadSafetensorsOptions = {}): Promise<SafetensorsFile> {
  assertLittleEndianHost();
  const fh = await openForRead(path);
  try {
    const header = await readHeader(fh, path);
    const wanted = selectTensors(header, options.names);
    const tensors = new Map<string, SafetensorsTensor>();
    for (const entry of wanted) tensors.set(entry.name, await readTensor(fh, header, entry));
    return { path, metadata: header.metadata, tensors };
  } finally {
    await fh.close();
  }
}

/** A safetensors file held open, for reading its tensors one at a time (a large checkpoint never sits in memory whole). */
export interface SafetensorsReader {
  readonly header: SafetensorsHeader;
  /** Reads one tensor; a name that is not in the file is an ArtifactError. */
  read(name: string): Promise<SafetensorsTensor>;
  close(): Promise<void>;
}

/** Opens a safetensors file and validates its header; the caller closes it. */
export async function openSafetensors(path: string): Promise<SafetensorsReader> {
  assertLittleEndianHost();
  const fh = await openForRead(path);
  let header: SafetensorsHeader;
  try {
    header = await readHeader(fh, path);
  } catch (error) {
    await fh.close();
    throw error;
  }
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  return {
    header,
    read: async (name) => {
      const entry = byName.get(name);
      if (!entry) throw new ArtifactError(path, `has no tensor '${name}'`, { hint: `it has: ${sampleNames([...byName.keys()])}` });
      return readTensor(fh, header, entry);
    },
    close: () => fh.close(),
  };
}

/** The named tensor as floats, or an ArtifactError saying it is missing or not a float tensor. */
export function requireFloatTensor(file: SafetensorsFile, name: string): FloatTensor {
  const tensor = file.tensors.get(name);
  if (tensor === undefined) {
    throw new ArtifactError(file.path, `has no tensor '${name}'`, { hint: `it has: ${sampleNames([...file.tensors.keys()])}` });
  }
  if (!isFloatDType(tensor.dtype)) {
    throw new ArtifactError(file.path, `tensor '${name}' has integer dtype ${tensor.dtype}, expected a float dtype`);
  }
  return tensor as FloatTensor;
}

async function openForRead(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'file not found' : `cannot open (${code ?? String(cause)})`;
    throw new ArtifactError(path, problem, { cause });
  }
}

async function readHeader(fh: FileHandle, path: string): Promise<SafetensorsHeader> {
  const { size } = await fh.stat();
  const prefix = new Uint8Array(8);
  if (size >= 8) await readExactly(fh, path, prefix, 0, 'the header length');
  const n = parseHeaderLength(path, prefix, size);
  const headerBytes = new Uint8Array(n);
  await readExactly(fh, path, headerBytes, 8, 'the header');
  return parseHeader(path, headerBytes, size);
}

function selectTensors(header: SafetensorsHeader, names: readonly string[] | undefined): readonly TensorEntry[] {
  if (names === undefined) return header.tensors;
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length > 0) {
    throw new ArtifactError(header.path, `has no tensor(s) ${missing.map((m) => `'${m}'`).join(', ')}`, {
      hint: `it has: ${sampleNames([...byName.keys()])}`,
    });
  }
  const wanted = new Set(names);
  return header.tensors.filter((t) => wanted.has(t.name));
}

async function readTensor(fh: FileHandle, header: SafetensorsHeader, entry: TensorEntry): Promise<SafetensorsTensor> {
  const numel = entry.shape.reduce((a, d) => a * d, 1);
  const position = header.dataStart + entry.dataOffsets[0];
  const shape = [...entry.shape];
  const read = (target: ArrayBufferView) =>
    readExactly(fh, header.path, new Uint8Array(target.buffer, target.byteOffset, target.byteLength), position, `tensor '${entry.name}'`);

  switch (entry.dtype) {
    case 'F32': {
      const data = new Float32Array(numel);
      await read(data);
      return { dtype: entry.dtype, shape, data };
    }
    case 'F16':
    case 'BF16': {
      const bits = new Uint16Array(numel);
      await read(bits);
      const data = new Float32Array(numel);
      if (entry.dtype === 'F16') f16BitsToF32(bits, data);
      else bf16BitsToF32(bits, data);
      return { dtype: entry.dtype, shape, data };
    }
    case 'F64': {
      const wide = new Float64Array(numel);
      await read(wide);
      return { dtype: entry.dtype, shape, data: Float32Array.from(wide) };
    }
    case 'I32': {
      const data = new Int32Array(numel);
      await read(data);
      return { dtype: entry.dtype, shape, data };
    }
    case 'I16':
    case 'I8':
    case 'U16':
    case 'U8':
    case 'BOOL': {
      const narrow = narrowIntArray(entry.dtype, numel);
      await read(narrow);
      const data = Int32Array.from(narrow);
      if (entry.dtype === 'BOOL') for (let i = 0; i < data.length; i++) data[i] = data[i] === 0 ? 0 : 1;
      return { dtype: entry.dtype, shape, data };
    }
    case 'U32':
    case 'I64':
    case 'U64': {
      const wide =
        entry.dtype === 'U32'
          ? new Uint32Array(numel)
          : entry.dtype === 'I64'
            ? new BigInt64Array(numel)
            : new BigUint64Array(numel);
      await read(wide);
      return { dtype: entry.dtype, shape, data: toInt32(header.path, entry, wide) };
    }
  }
}

function narrowIntArray(dtype: 'I16' | 'I8' | 'U16' | 'U8' | 'BOOL', numel: number): Int16Array | Int8Array | Uint16Array | Uint8Array {
  switch (dtype) {
    case 'I16':
      return new Int16Array(numel);
    case 'I8':
      return new Int8Array(numel);
    case 'U16':
      return new Uint16Array(numel);
    default:
      return new Uint8Array(numel);
  }
}

/** Integer tensors here hold token ids or indices; anything outside int32 is a real problem, so say so. */
function toInt32(path: string, entry: TensorEntry, wide: Uint32Array | BigInt64Array | BigUint64Array): Int32Array {
  const out = new Int32Array(wide.length);
  for (let i = 0; i < wide.length; i++) {
    const v = Number(wide[i]!);
    if (v > 2147483647 || v < -2147483648) {
      throw new ArtifactError(path, `tensor '${entry.name}' (${entry.dtype}) holds ${wide[i]} at index ${i}, outside the int32 range this reader returns`);
    }
    out[i] = v;
  }
  return out;
}

async function readExactly(fh: FileHandle, path: string, target: Uint8Array, position: number, what: string): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await fh.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) {
      throw new ArtifactError(path, `file ended while reading ${what} (got ${done} of ${target.length} bytes)`, {
        hint: 'the file changed or was truncated while being read.',
      });
    }
    done += bytesRead;
  }
}

/** Typed arrays use the host byte order and the format is little-endian; every platform Node ships on is. */
function assertLittleEndianHost(): void {
  if (endianness() !== 'LE') throw new RuntimeError('safetensors reading needs a little-endian host');
}

function sampleNames(names: readonly string[]): string {
  const shown = names.slice(0, 8).map((n) => `'${n}'`).join(', ');
  return names.length > 8 ? `${shown}, … (${names.length} in all)` : shown || '(no tensors)';
}
