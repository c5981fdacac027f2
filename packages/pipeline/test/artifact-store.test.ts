/**
 * The two artifact stores (src/store): the shared directory on a temporary directory, the NATS
 * object store against the real nats-server on loopback. Both must publish atomically, keep the
 * first of two racing writers of one key (and drop the other's temp), replace when asked, list by
 * prefix, refuse an entry whose bytes do not hash as recorded, and move a directory of 256 MB in
 * and out with the process's memory growing by a small fraction of that (entries are streamed).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArtifactStore, collect, connectQueue, getDir, openDirStore, openNatsStore, packStream, putDir, storeIdentity } from '../src/index';
import { NATS_MISSING, type NatsServer, natsServerBinary, startNatsServer } from './nats-server';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sampleDir(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, 'model'), { recursive: true });
  await writeFile(join(path, 'manifest.json'), `{"content":"${content}"}`);
  await writeFile(join(path, 'model', 'weights.bin'), Buffer.alloc(200_000, content));
  return path;
}

/** A directory of `files` files of `megabytes` MB each, written a megabyte at a time (so making it costs no memory). */
async function bigDir(name: string, files: number, megabytes: number): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, 'checkpoints'), { recursive: true });
  for (let f = 0; f < files; f += 1) {
    const handle = await open(join(path, 'checkpoints', `part-${f}.bin`), 'w');
    for (let m = 0; m < megabytes; m += 1) await handle.write(createHash('sha256').update(`${f}:${m}`).digest().toString('hex').repeat(16384));
    await handle.close();
  }
  return path;
}

async function fileHash(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Runs `work` while sampling the resident set size; how far it rose above where it started. */
async function rssGrowth(work: () => Promise<void>): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage().rss) - start;
}

function storeContract(name: string, open: () => Promise<ArtifactStore>) {
  describe(name, () => {
    it('stores a directory atomically, reads it back whole, lists and removes it', async () => {
      const store = await open();
      try {
        const source = await sampleDir(`${name}-a`, 'a');
        expect(await putDir(store, 'steps/abc', source)).toBe('stored');
        expect(await store.has('steps/abc')).toBe(true);
        const out = join(dir, `${name}-a-out`);
        expect(await getDir(store, 'steps/abc', out)).toBe(true);
        expect(await readFile(join(out, 'manifest.json'), 'utf8')).toBe('{"content":"a"}');
        expect((await readFile(join(out, 'model', 'weights.bin'))).equals(Buffer.alloc(200_000, 'a'))).toBe(true);
        expect(await getDir(store, 'steps/missing', join(dir, `${name}-none`))).toBe(false);
        expect(existsSync(join(dir, `${name}-none`))).toBe(false);
        expect(await store.list('steps/')).toEqual(['steps/abc']);
        await store.remove('steps/abc');
        expect(await store.has('steps/abc')).toBe(false);
      } finally {
        await store.close();
      }
    });

    it('of two writers racing on one key, the first stands and the other is dropped; replace replaces', async () => {
      const [first, second] = [await open(), await open()];
      try {
        const a = await sampleDir(`${name}-race-a`, 'x');
        const b = await sampleDir(`${name}-race-b`, 'y');
        const outcomes = await Promise.all([putDir(first, 'steps/race', a), putDir(second, 'steps/race', b)]);
        expect(outcomes.sort()).toEqual(['exists', 'stored']);
        const out = join(dir, `${name}-race-out`);
        await getDir(first, 'steps/race', out);
        const content = await readFile(join(out, 'manifest.json'), 'utf8');
        expect(['{"content":"x"}', '{"content":"y"}']).toContain(content);
        // The whole entry is one writer's: its weights match its manifest.
        expect((await readFile(join(out, 'model', 'weights.bin')))[0]).toBe(content.includes('x') ? 'x'.charCodeAt(0) : 'y'.charCodeAt(0));
        expect(await first.list('steps/')).toEqual(['steps/race']);
        expect(await putDir(first, 'partial/p', a, { replace: true })).toBe('stored');
        expect(await putDir(second, 'partial/p', b, { replace: true })).toBe('stored');
        const replaced = join(dir, `${name}-replaced`);
        await getDir(first, 'partial/p', replaced);
        expect(await readFile(join(replaced, 'manifest.json'), 'utf8')).toBe('{"content":"y"}');
      } finally {
        await first.close();
        await second.close();
      }
    });

    it('streams a 256 MB directory in and out: the process grows by a small fraction of it', async () => {
      const store = await open();
      const source = await bigDir(`${name}-big`, 4, 64);
      const out = join(dir, `${name}-big-out`);
      try {
        const growth = await rssGrowth(async () => {
          expect(await putDir(store, 'steps/big', source)).toBe('stored');
          expect(await getDir(store, 'steps/big', out)).toBe(true);
        });
        const size = (await store.entries('steps/big'))[0]?.bytes ?? 0;
        expect(size).toBeGreaterThan(256 * 2 ** 20);
        for (let f = 0; f < 4; f += 1) expect(await fileHash(join(out, 'checkpoints', `part-${f}.bin`))).toBe(await fileHash(join(source, 'checkpoints', `part-${f}.bin`)));
        process.stderr.write(`${name}: 256 MB stored and fetched, resident set grew by ${(growth / 2 ** 20).toFixed(1)} MB\n`);
        expect(growth).toBeLessThan(64 * 2 ** 20);
      } finally {
        await store.remove('steps/big');
        await rm(source, { recursive: true, force: true });
        await rm(out, { recursive: true, force: true });
        await store.close();
      }
    }, 120_000);

    it('has one identity, whoever asks first', async () => {
      const [first, second] = [await open(), await open()];
      try {
        const [a, b] = await Promise.all([storeIdentity(first), storeIdentity(second)]);
        expect(a).toMatch(/^[0-9a-f]{24}$/);
        expect(b).toBe(a);
        expect(await storeIdentity(first)).toBe(a);
      } finally {
        await first.close();
        await second.close();
      }
    });

    it('refuses an entry whose bytes do not hash as recorded, and a key outside its rules', async () => {
      const store = await open();
      try {
        const source = await sampleDir(`${name}-bad`, 'b');
        const packed = Buffer.from(await collect(packStream(source)));
        // The last byte of the last file (its trailer and the end record follow it).
        const last = packed.lastIndexOf('{"sha256"') - 1;
        packed.writeUInt8(packed.readUInt8(last) ^ 1, last);
        await store.put('steps/damaged', packed);
        await expect(getDir(store, 'steps/damaged', join(dir, `${name}-bad-out`))).rejects.toThrow(/does not hash as recorded/);
        expect(existsSync(join(dir, `${name}-bad-out`))).toBe(false);
        await expect(store.put('../escape', packed)).rejects.toThrow(/artifact store key/);
      } finally {
        await store.close();
      }
    });
  });
}

storeContract('the shared-directory store', async () => openDirStore(join(dir, 'shared')));

describe('the shared-directory store on disk', () => {
  it('leaves no temp behind and keeps entries as <key>.pack files', async () => {
    const root = join(dir, 'shared-files');
    const store = openDirStore(root);
    await putDir(store, 'steps/one', await sampleDir('files', 'f'));
    await putDir(store, 'steps/one', await sampleDir('files2', 'g'));
    expect(await readdir(join(root, 'steps'))).toEqual(['one.pack']);
  });
});

const nats = natsServerBinary();
if (nats === undefined) {
  describe.skip(NATS_MISSING, () => undefined);
} else {
  let server: NatsServer;
  const connections: NatsConnection[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
  }, 20_000);
  afterAll(async () => {
    for (const c of connections) await c.close().catch(() => undefined);
    await server?.stop();
  }, 20_000);
  storeContract('the NATS object store', async () => {
    const connection = await connectQueue(server.url, { timeoutMs: 5000 });
    connections.push(connection);
    return openNatsStore(connection, server.url);
  });
}
