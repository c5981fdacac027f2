import { mkdtemp, readdir, readFile, rm, writeFile, mkdir, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactError } from '@circuit-tuning/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeDirAtomic, writeFileAtomic, writeJsonAtomic } from './atomic-write';
import { isTempName } from './temp-names';
import { sha256Bytes, sha256File, sha256Tree } from './hash';
import { hashConfig, stableStringify } from './stable-json';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-fs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeDirAtomic', () => {
  it('assembles a directory under a temp name and renames it into place, replacing only through the caller', async () => {
    const path = join(dir, 'checkpoints', 'step-1');
    let seen: string[] = [];
    await writeDirAtomic(path, async (temp) => {
      seen = await readdir(join(dir, 'checkpoints'));
      await writeFile(join(temp, 'a.txt'), 'one');
      await mkdir(join(temp, 'sub'));
      await writeFile(join(temp, 'sub', 'b.txt'), 'two');
    });
    // While it was filled, only a temp of the one form was there.
    expect(seen).toHaveLength(1);
    expect(isTempName(seen[0]!)).toBe(true);
    expect(await readFile(join(path, 'sub', 'b.txt'), 'utf8')).toBe('two');
    expect(await readdir(join(dir, 'checkpoints'))).toEqual(['step-1']);

    await expect(writeDirAtomic(path, async () => undefined)).rejects.toThrow(/step-1.*exists; it is not replaced/);
    await writeDirAtomic(path, async (temp) => writeFile(join(temp, 'c.txt'), 'three'), { replace: (p) => rm(p, { recursive: true }) });
    expect(await readdir(path)).toEqual(['c.txt']);
  });

  it('leaves neither a half directory nor its temp when filling fails', async () => {
    const path = join(dir, 'model');
    await expect(
      writeDirAtomic(path, async (temp) => {
        await writeFile(join(temp, 'weights.bin'), 'partial');
        throw new Error('killed');
      }),
    ).rejects.toThrow('killed');
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('writeFileAtomic', () => {
  it('writes the data under the final name and leaves no temp file', async () => {
    const path = join(dir, 'sub', 'a.bin');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    await writeFileAtomic(path, 'replaced');
    expect(await readFile(path, 'utf8')).toBe('replaced');
    expect(await readdir(join(dir, 'sub'))).toEqual(['a.bin']);
  });

  it('removes its temp file when the rename fails', async () => {
    // The target is a non-empty directory, so rename fails after the temp file was written.
    const target = join(dir, 'taken');
    await mkdir(target);
    await writeFile(join(target, 'x'), 'x');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['taken']);
  });

  it('writes a large file in pieces through its handle, and removes the temp when that throws', async () => {
    const path = join(dir, 'pieces.bin');
    await writeFileAtomic(path, async (handle) => {
      await handle.write(new Uint8Array([1, 2]));
      await handle.write(new Uint8Array([3]));
    });
    expect([...(await readFile(path))]).toEqual([1, 2, 3]);
    await expect(
      writeFileAtomic(path, async (handle) => {
        await handle.write(new Uint8Array([9]));
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect([...(await readFile(path))]).toEqual([1, 2, 3]);
    expect(await readdir(dir)).toEqual(['pieces.bin']);
  });

  it('names the file when its directory cannot be made', async () => {
    await writeFile(join(dir, 'plain'), 'a file, not a directory');
    const error = await writeFileAtomic(join(dir, 'plain', 'x.json'), 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as ArtifactError).message).toMatch(/plain\/x\.json.*cannot write \((ENOTDIR|EEXIST)\)/);
  });

  it('writes JSON with a trailing newline', async () => {
    const path = join(dir, 'v.json');
    await writeJsonAtomic(path, { a: 1 });
    expect(await readFile(path, 'utf8')).toBe('{\n  "a": 1\n}\n');
  });
});

describe('sha256', () => {
  it('hashes files by streaming, matching the in-memory hash', async () => {
    const data = new Uint8Array(300_000).map((_, i) => i % 251);
    const path = join(dir, 'big.bin');
    await writeFile(path, data);
    expect(await sha256File(path)).toBe(sha256Bytes(data));
    expect(sha256Bytes('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('names the file when it is missing', async () => {
    const missing = join(dir, 'nope.bin');
    const error = await sha256File(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as ArtifactError).file).toBe(missing);
    expect((error as Error).message).toContain('not found');
  });

  it('hashes a directory tree independently of creation order, skipping temp files', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await mkdir(join(a, 'sub'), { recursive: true });
    await mkdir(join(b, 'sub'), { recursive: true });
    await writeFile(join(a, 'x.txt'), 'x');
    await writeFile(join(a, 'sub', 'y.txt'), 'y');
    await writeFile(join(b, 'sub', 'y.txt'), 'y');
    await writeFile(join(b, 'x.txt'), 'x');
    await writeFile(join(b, '.x.txt.123.abc.tmp'), 'partial');
    const ha = await sha256Tree(a);
    const hb = await sha256Tree(b);
    expect(ha).toEqual(hb);
    expect(ha.files).toBe(2);
    await writeFile(join(b, 'x.txt'), 'changed');
    expect((await sha256Tree(b)).sha256).not.toBe(ha.sha256);
  });

  it('reports unreadable files as artifact errors', async () => {
    if (process.getuid?.() === 0) return; // root reads everything
    const path = join(dir, 'locked');
    await writeFile(path, 'x');
    await chmod(path, 0o000);
    await expect(sha256File(path)).rejects.toBeInstanceOf(ArtifactError);
  });
});

describe('stableStringify / hashConfig', () => {
  it('sorts keys at every depth', () => {
    expect(stableStringify({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(hashConfig({ x: 1, y: 2 })).toBe(hashConfig({ y: 2, x: 1 }));
    expect(hashConfig({ x: 1 })).not.toBe(hashConfig({ x: 2 }));
  });

  it('follows JSON for undefined, non-finite numbers and toJSON', () => {
    expect(stableStringify({ a: undefined, b: [undefined], c: Number.NaN })).toBe('{"b":[null],"c":null}');
    expect(stableStringify({ t: new Date(0) })).toBe('{"t":"1970-01-01T00:00:00.000Z"}');
    expect(hashConfig({ a: undefined })).toBe(hashConfig({}));
  });

  it('refuses values JSON would collapse silently', () => {
    expect(() => stableStringify({ m: new Map() })).toThrow(/Map and Set/);
    expect(() => stableStringify(10n)).toThrow(/bigint/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => stableStringify(cyclic)).toThrow(/cycle/);
    expect(() => stableStringify(undefined)).toThrow();
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { k: 1 };
    expect(stableStringify({ a: shared, b: shared })).toBe('{"a":{"k":1},"b":{"k":1}}');
  });
});
