/**
 * Writing safetensors files that the Hugging Face `safetensors` library loads unchanged:
 * tensors sorted by name (deterministic bytes for the same input, so hashes in manifests are
 * stable), contiguous data with no holes, and the header padded with spaces to a multiple of 8 so
 * the data buffer starts 8-aligned, as the reference writer does.
 */
import { ContractError } from '@circuit-tuning/contracts';
import { bytesPerElement } from './dtypes';
import { f32ToBf16Bits, f32ToF16Bits } from './half';
import { writeFileAtomic } from '@circuit-tuning/runtime';

/** A tensor to write: float data stored as F32, or narrowed to F16/BF16 (round to nearest even). */
export type WritableTensor =
  | { readonly dtype?: 'F32' | 'F16' | 'BF16'; readonly shape: readonly number[]; readonly data: Float32Array }
  | { readonly dtype: 'I32'; readonly shape: readonly number[]; readonly data: Int32Array };

export type WritableTensors = Readonly<Record<string, WritableTensor>> | ReadonlyMap<string, WritableTensor>;

interface Planned {
  readonly name: string;
  readonly dtype: 'F32' | 'F16' | 'BF16' | 'I32';
  readonly shape: readonly number[];
  readonly tensor: WritableTensor;
  readonly begin: number;
  readonly end: number;
}

/** Serializes the header (padded) and the plan of where each tensor goes. Exported for tests. */
export function planSafetensors(
  tensors: WritableTensors,
  metadata: Readonly<Record<string, string>> = {},
): { header: Uint8Array; planned: readonly Planned[] } {
  const entries: [string, WritableTensor][] =
    tensors instanceof Map ? [...(tensors as ReadonlyMap<string, WritableTensor>).entries()] : Object.entries(tensors);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  const planned: Planned[] = [];
  let offset = 0;
  for (const [name, tensor] of entries) {
    if (name === '__metadata__') throw new ContractError("'__metadata__' is reserved and cannot name a tensor");
    const dtype = tensor.dtype ?? 'F32';
    if (!tensor.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new ContractError(`tensor '${name}': shape must be non-negative integers, got [${tensor.shape.join(', ')}]`);
    }
    const numel = tensor.shape.reduce((a, d) => a * d, 1);
    if (numel !== tensor.data.length) {
      throw new ContractError(
        `tensor '${name}': shape [${tensor.shape.join(', ')}] has ${numel} elements but data has ${tensor.data.length}`,
      );
    }
    const end = offset + numel * bytesPerElement(dtype);
    planned.push({ name, dtype, shape: tensor.shape, tensor, begin: offset, end });
    offset = end;
  }

  return { header: encodeHeader(planned, metadata), planned };
}

/** The 8-byte length and the JSON header, padded with spaces to a multiple of 8. */
function encodeHeader(
  planned: readonly { name: string; dtype: string; shape: readonly number[]; begin: number; end: number }[],
  metadata: Readonly<Record<string, string>>,
): Uint8Array {
  const json: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new ContractError(`metadata '${key}' must be a string`);
  }
  if (Object.keys(metadata).length > 0) json['__metadata__'] = sortedObject(metadata);
  for (const p of planned) json[p.name] = { dtype: p.dtype, shape: [...p.shape], data_offsets: [p.begin, p.end] };

  const raw = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil(raw.length / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(raw, 8);
  return header;
}

/**
 * Writes `tensors` to `path` atomically (temporary file in the same directory, then rename).
 * `metadata` goes to `__metadata__` (e.g. `{ format: 'pt' }`, which transformers expects).
 */
export async function writeSafetensors(
  path: string,
  tensors: WritableTensors,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const { header, planned } = planSafetensors(tensors, metadata);
  await writeFileAtomic(path, async (fh) => {
    await fh.write(header);
    for (const p of planned) {
      const bytes = encodeTensor(p);
      if (bytes.byteLength > 0) await fh.write(bytes);
    }
  });
}

function encodeTensor(p: Planned): Uint8Array {
  const { data } = p.tensor;
  if (p.dtype === 'F16' || p.dtype === 'BF16') {
    const bits = p.dtype === 'F16' ? f32ToF16Bits(data as Float32Array) : f32ToBf16Bits(data as Float32Array);
    return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
  }
  // F32 and I32 are written from the caller's memory as is (little-endian host assumed, as on read).
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function sortedObject(record: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return out;
}

/** A float tensor whose values are produced only when the writer reaches it, in chunks of any size. */
export interface StreamedTensor {
  readonly name: string;
  readonly dtype: 'F32' | 'F16' | 'BF16';
  readonly shape: readonly number[];
  readonly values: () => Iterable<Float32Array> | AsyncIterable<Float32Array>;
}

/**
 * Writes a safetensors file whose tensors are produced one after another while it is written, so a
 * file larger than memory can be written (a shard of a generated checkpoint, a shard of a model
 * being saved). Same bytes as writeSafetensors for the same values; atomic in the same way.
 */
export async function writeSafetensorsStreamed(
  path: string,
  tensors: readonly StreamedTensor[],
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const planned: { name: string; dtype: string; shape: readonly number[]; begin: number; end: number; numel: number; source: StreamedTensor }[] = [];
  let offset = 0;
  for (const t of sorted) {
    if (t.name === '__metadata__') throw new ContractError("'__metadata__' is reserved and cannot name a tensor");
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new ContractError(`tensor '${t.name}': shape must be non-negative integers, got [${t.shape.join(', ')}]`);
    }
    const numel = t.shape.reduce((a, d) => a * d, 1);
    const end = offset + numel * bytesPerElement(t.dtype);
    planned.push({ name: t.name, dtype: t.dtype, shape: t.shape, begin: offset, end, numel, source: t });
    offset = end;
  }
  const header = encodeHeader(planned, metadata);
  await writeFileAtomic(path, async (fh) => {
    await fh.write(header);
    for (const p of planned) {
      let written = 0;
      for await (const chunk of p.source.values()) {
        written += chunk.length;
        if (written > p.numel) break;
        const bytes = encodeFloats(p.source.dtype, chunk);
        if (bytes.byteLength > 0) await fh.write(bytes);
      }
      if (written !== p.numel) {
        throw new ContractError(`tensor '${p.name}': shape [${p.shape.join(', ')}] has ${p.numel} elements but ${written} values were produced`);
      }
    }
  });
}

function encodeFloats(dtype: 'F32' | 'F16' | 'BF16', data: Float32Array): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bits = dtype === 'F16' ? f32ToF16Bits(data) : f32ToBf16Bits(data);
  return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
}
