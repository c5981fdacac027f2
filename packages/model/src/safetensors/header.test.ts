/** Corrupt and hostile files: each must fail with an ArtifactError that names the file and the problem. */
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactError } from '@circuit-tuning/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyGpt2Dir } from '../../test/shared-data';
import { readSafetensors, readSafetensorsHeader } from './read';

const REFERENCE = `${tinyGpt2Dir}/model.safetensors`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'safetensors-corrupt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Builds a file from a header (object or raw text) and a data buffer of `dataBytes` zeros. */
function rawFile(header: unknown, dataBytes: number): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, Buffer.alloc(dataBytes)]);
}

async function expectArtifactError(name: string, bytes: Uint8Array, problem: RegExp): Promise<ArtifactError> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  const error = await readSafetensors(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ArtifactError);
  const artifact = error as ArtifactError;
  expect(artifact.file).toBe(path);
  expect(artifact.message.startsWith(`${path}: `)).toBe(true);
  expect(artifact.message).toMatch(problem);
  return artifact;
}

describe('safetensors validation', () => {
  it('a file shorter than the length prefix', async () => {
    await expectArtifactError('tiny.safetensors', Buffer.from([1, 2, 3]), /file is 3 bytes, shorter than the 8-byte header length prefix/);
  });

  it('a header length beyond the file', async () => {
    const bytes = rawFile({}, 0);
    bytes.writeBigUInt64LE(10_000n);
    await expectArtifactError('long-header.safetensors', bytes, /header length 10000 runs past the end of the file \(10 bytes/);
    bytes.writeBigUInt64LE(2n ** 63n);
    await expectArtifactError('huge-header.safetensors', bytes, /header length 9223372036854775808 runs past the end/);
  });

  it('a truncated file (the reference cut in half)', async () => {
    const full = await readFile(REFERENCE);
    const error = await expectArtifactError(
      'truncated.safetensors',
      full.subarray(0, Math.floor(full.length / 2)),
      /tensor '[^']+': data_offsets \[\d+, \d+\] run past the end of the data \(\d+ bytes after the header\); the file is truncated/,
    );
    expect(error.hint).toMatch(/truncated/);
  });

  it('a header that is not JSON, or not an object', async () => {
    const error = await expectArtifactError('bad-json.safetensors', rawFile('{"a": {"dtype": "F32",', 0), /header is not valid JSON/);
    expect(error.hint).toMatch(/safetensors file/);
    await expectArtifactError('array.safetensors', rawFile('[1, 2]', 0), /header must be a JSON object, got an array/);
    await expectArtifactError('latin1.safetensors', rawFile(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'), 0), /./);
  });

  it('an unsupported or unknown dtype, naming the tensor and listing the supported ones', async () => {
    const error = await expectArtifactError(
      'f8.safetensors',
      rawFile({ w: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, 2),
      /tensor 'w' has unsupported dtype 'F8_E4M3'/,
    );
    expect(error.hint).toMatch(/supported dtypes: F64, F32, F16, BF16/);
    await expectArtifactError(
      'q4.safetensors',
      rawFile({ w: { dtype: 'Q4', shape: [2], data_offsets: [0, 2] } }, 2),
      /tensor 'w' has unknown dtype 'Q4'/,
    );
  });

  it('overlapping offsets, naming both tensors', async () => {
    await expectArtifactError(
      'overlap.safetensors',
      rawFile(
        {
          a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
          b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
        },
        24,
      ),
      /tensors 'a' \[0, 16\) and 'b' \[8, 24\) have overlapping data_offsets/,
    );
  });

  it('offsets past the end of the file', async () => {
    await expectArtifactError(
      'past-end.safetensors',
      rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [16, 24] } }, 16),
      /tensor 'b': data_offsets \[16, 24\] run past the end of the data \(16 bytes after the header\)/,
    );
  });

  it('offsets that disagree with shape and dtype, run backwards, or are negative', async () => {
    await expectArtifactError(
      'size.safetensors',
      rawFile({ w: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 24] } }, 24),
      /tensor 'w': data_offsets \[0, 24\] span 24 bytes, but shape \[2, 3\] of F16 needs 12/,
    );
    await expectArtifactError(
      'backwards.safetensors',
      rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 8),
      /tensor 'w': data_offsets \[8, 4\] end before they begin/,
    );
    await expectArtifactError(
      'negative.safetensors',
      rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, 8),
      /tensor 'w': data_offsets must be two non-negative integers/,
    );
  });

  it('a shape that is not a list of non-negative integers', async () => {
    await expectArtifactError(
      'shape.safetensors',
      rawFile({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, 8),
      /tensor 'w': shape must be a list of non-negative integers, got \[2,-1\]/,
    );
    await expectArtifactError(
      'shape2.safetensors',
      rawFile({ w: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, 8),
      /tensor 'w': shape must be a list/,
    );
  });

  it('bad metadata', async () => {
    await expectArtifactError('meta.safetensors', rawFile({ __metadata__: { step: 3 } }, 0), /__metadata__\.step must be a string/);
  });

  it('tolerates holes between tensors, and reports how many bytes no tensor indexes', async () => {
    const path = join(dir, 'hole.safetensors');
    await writeFile(path, rawFile({ a: { dtype: 'U8', shape: [2], data_offsets: [4, 6] } }, 10));
    const header = await readSafetensorsHeader(path);
    expect(header.unindexedBytes).toBe(8);
    const file = await readSafetensors(path);
    expect(file.tensors.get('a')?.dtype).toBe('U8');
  });

  it('rejects int64 values outside the int32 range it returns', async () => {
    const bytes = rawFile({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, 16);
    const dataStart = bytes.length - 16;
    bytes.writeBigInt64LE(-7n, dataStart);
    bytes.writeBigInt64LE(2n ** 40n, dataStart + 8);
    await expectArtifactError('i64.safetensors', bytes, /tensor 'ids' \(I64\) holds 1099511627776 at index 1, outside the int32 range/);
    bytes.writeBigInt64LE(123n, dataStart + 8);
    const path = join(dir, 'i64-ok.safetensors');
    await writeFile(path, bytes);
    const ids = (await readSafetensors(path)).tensors.get('ids');
    expect(ids?.data).toEqual(new Int32Array([-7, 123]));
  });
});
