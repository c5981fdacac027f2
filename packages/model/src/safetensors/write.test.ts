import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTempName } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundToBf16, roundToF16 } from './half';
import { readSafetensors, readSafetensorsHeader, requireFloatTensor } from './read';
import { tinyGpt2Dir } from '../../test/shared-data';
import { writeSafetensors } from './write';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'safetensors-write-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Deterministic values spanning many magnitudes and both signs, with some F16 subnormals. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out[i] = ((s / 2 ** 31) * 2 - 1) * 10 ** ((i % 9) - 6);
  }
  return out;
}

describe('writeSafetensors', () => {
  it('round-trips F32 exactly and F16/BF16 to their precision', async () => {
    const a = values(6 * 7, 1);
    const b = values(5, 2);
    const c = values(12, 3);
    const path = join(dir, 'mixed.safetensors');
    await writeSafetensors(
      path,
      {
        'z.f32': { shape: [6, 7], data: a },
        'a.f16': { dtype: 'F16', shape: [5], data: b },
        'm.bf16': { dtype: 'BF16', shape: [3, 4], data: c },
        'ids': { dtype: 'I32', shape: [3], data: new Int32Array([0, -5, 50256]) },
        'empty': { shape: [0, 4], data: new Float32Array(0) },
      },
      { format: 'pt' },
    );
    const file = await readSafetensors(path);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect([...file.tensors.keys()]).toEqual(['a.f16', 'empty', 'ids', 'm.bf16', 'z.f32']);
    expect(requireFloatTensor(file, 'z.f32').data).toEqual(a);
    expect(requireFloatTensor(file, 'z.f32').shape).toEqual([6, 7]);
    const f16 = requireFloatTensor(file, 'a.f16').data;
    const bf16 = requireFloatTensor(file, 'm.bf16').data;
    for (let i = 0; i < b.length; i++) {
      expect(f16[i]).toBe(roundToF16(b[i]!));
      expect(Math.abs(f16[i]! - b[i]!)).toBeLessThanOrEqual(Math.abs(b[i]!) * 2 ** -11 + 2 ** -24);
    }
    for (let i = 0; i < c.length; i++) {
      expect(bf16[i]).toBe(roundToBf16(c[i]!));
      expect(Math.abs(bf16[i]! - c[i]!)).toBeLessThanOrEqual(Math.abs(c[i]!) * 2 ** -8);
    }
    const ids = file.tensors.get('ids');
    expect(ids?.dtype).toBe('I32');
    expect([...(ids?.data ?? [])]).toEqual([0, -5, 50256]);
    expect(file.tensors.get('empty')?.shape).toEqual([0, 4]);
  });

  it('re-writes the reference checkpoint byte-for-byte in data, with an 8-aligned space-padded header', async () => {
    const source = await readSafetensors(`${tinyGpt2Dir}/model.safetensors`);
    const tensors = new Map([...source.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array }]));
    const path = join(dir, 'copy.safetensors');
    await writeSafetensors(path, tensors);
    const header = await readSafetensorsHeader(path);
    expect(header.headerLength % 8).toBe(0);
    expect(header.unindexedBytes).toBe(0);
    const bytes = await readFile(path);
    const headerText = bytes.subarray(8, 8 + header.headerLength).toString('utf8');
    expect(headerText).toMatch(/^\{.*\} *$/);
    const copy = await readSafetensors(path);
    for (const [name, t] of source.tensors) expect(copy.tensors.get(name)?.data).toEqual(t.data);
  });

  it('is deterministic whatever the insertion order, and leaves no temporary file', async () => {
    const a = { shape: [2], data: new Float32Array([1, 2]) };
    const b = { shape: [1], data: new Float32Array([3]) };
    await writeSafetensors(join(dir, 'd1.safetensors'), { a, b });
    await writeSafetensors(join(dir, 'd2.safetensors'), new Map([['b', b], ['a', a]]));
    expect(await readFile(join(dir, 'd1.safetensors'))).toEqual(await readFile(join(dir, 'd2.safetensors')));
    expect((await readdir(dir)).filter((f) => isTempName(f))).toEqual([]);
  });

  it('rejects data that does not match its shape', async () => {
    await expect(writeSafetensors(join(dir, 'bad.safetensors'), { w: { shape: [2, 2], data: new Float32Array(3) } })).rejects.toThrow(
      "tensor 'w': shape [2, 2] has 4 elements but data has 3",
    );
  });

  it('names the file when its directory cannot be made', async () => {
    await writeFile(join(dir, 'plain'), 'a file where a directory should be');
    const path = join(dir, 'plain', 'x.safetensors');
    await expect(writeSafetensors(path, {})).rejects.toThrow(new RegExp(`${path}: cannot write \\((ENOTDIR|EEXIST)\\)`));
  });
});
