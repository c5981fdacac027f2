/**
 * Garbage collection of the artifact store (src/store/gc.ts) on both implementations: the shared
 * directory on a temporary directory, the NATS object store on the real nats-server on loopback.
 * One store, filled as sweeps, runs and jobs leave it, then collected with an age of one second:
 *
 *   goes    a step and a trial only an old sweep's reference names, that reference, the partial
 *           state of a step no job leases, a write whose writer died
 *   stays   a step a fresh reference names, a step of a sweep named with --keep (however old), a
 *           step written within the age that nothing names yet, partial state under a live lease,
 *           the store's identity
 *
 * A dry run lists and removes nothing; a real one removes exactly the list, after which another
 * finds nothing to do. And a step run through stepSync with an owner is listed in its reference,
 * with a lease while it runs.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArtifactStore, collectGarbage, connectQueue, leaseKey, OBJECT_BUCKET, openDirStore, openNatsStore, putDir, readReference, storeIdentity, type StoreReference } from '../src/index';
import { NATS_MISSING, type NatsServer, natsServerBinary, startNatsServer } from './nats-server';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-store-gc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const KEY = (c: string) => c.repeat(64);
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const reference = (owner: string, keys: string[]): StoreReference => ({ format: 'ct-store-ref/1', owner, keys, updatedAt: new Date().toISOString() });

async function sample(name: string, bytes: number): Promise<string> {
  const path = join(dir, name);
  await mkdir(path, { recursive: true });
  await writeFile(join(path, 'manifest.json'), '{}');
  await writeFile(join(path, 'weights.bin'), Buffer.alloc(bytes, 7));
  return path;
}

function gcContract(name: string, open: () => Promise<ArtifactStore>, leaveTemp: (store: ArtifactStore) => Promise<void>) {
  describe(name, () => {
    it('removes what no kept sweep or run uses and stale state, never what is young, kept or leased; a dry run removes nothing', async () => {
      const store = await open();
      try {
        const id = await storeIdentity(store);
        const source = await sample(`${name}-step`, 10_000);
        // Written a while ago: by an old sweep (s-old), a kept sweep (s-kept), a job that died (p2) and one still running (p1).
        for (const c of ['a', 'b', 'c']) await putDir(store, `steps/${KEY(c)}`, source);
        await putDir(store, 'runs/s-old/0', source);
        await putDir(store, `partial/${KEY('1')}`, source, { replace: true });
        await putDir(store, `partial/${KEY('2')}`, source, { replace: true });
        await store.put('refs/s-old/0', json(reference('s-old/0', [`steps/${KEY('b')}`, 'runs/s-old/0'])), { replace: true });
        await store.put('refs/s-kept/0', json(reference('s-kept/0', [`steps/${KEY('c')}`])), { replace: true });
        await leaveTemp(store);
        await new Promise((r) => setTimeout(r, 1500));
        // Within the age: a run using step a, the running job's lease, a step nothing names yet.
        await store.put('refs/run-new', json(reference('run-new', [`steps/${KEY('a')}`])), { replace: true });
        await store.put(leaseKey(KEY('1')), json({ host: 'here', pid: 1 }), { replace: true });
        await putDir(store, `steps/${KEY('d')}`, source);

        const options = { olderThanMs: 1000, keep: ['s-kept'] };
        const plan = await collectGarbage(store, options);
        expect(plan.removed).toBe(false);
        const going = plan.items.filter((i) => !i.temp).map((i) => i.key);
        expect(going.sort()).toEqual([`partial/${KEY('2')}`, 'refs/s-old/0', 'runs/s-old/0', `steps/${KEY('b')}`].sort());
        expect(plan.items.filter((i) => i.temp)).toHaveLength(1);
        expect(plan.bytes).toBe(plan.items.reduce((sum, i) => sum + i.bytes, 0));
        expect(plan.bytes).toBeGreaterThan(3 * 10_000);
        expect(plan.kept.references).toBe(2);
        // Nothing was removed by the dry run.
        expect(await store.has(`steps/${KEY('b')}`)).toBe(true);
        expect((await store.temps()).length).toBe(1);

        const done = await collectGarbage(store, { ...options, remove: true });
        expect(done.items.map((i) => i.key).sort()).toEqual(plan.items.map((i) => i.key).sort());
        expect(await store.list('steps/')).toEqual([`steps/${KEY('a')}`, `steps/${KEY('c')}`, `steps/${KEY('d')}`]);
        expect(await store.list('runs/')).toEqual([]);
        expect(await store.list('partial/')).toEqual([`partial/${KEY('1')}`]);
        expect(await store.list('refs/')).toEqual(['refs/run-new', 'refs/s-kept/0']);
        expect(await store.temps()).toEqual([]);
        expect(await storeIdentity(store)).toBe(id);
        expect((await collectGarbage(store, options)).items).toEqual([]);

        // Once everything is old and no sweep is kept, the identity is left, and the running step's
        // state under its lease (live for gc.ts's LEASE_TTL_MS, however short the age).
        await new Promise((r) => setTimeout(r, 1100));
        await collectGarbage(store, { olderThanMs: 1000, remove: true });
        expect((await store.entries('')).map((e) => e.key)).toEqual([leaseKey(KEY('1')), `partial/${KEY('1')}`, 'store-id']);
      } finally {
        await store.close();
      }
    }, 60_000);
  });
}

gcContract(
  'the shared-directory store',
  async () => openDirStore(join(dir, 'shared')),
  // A writer killed mid-put leaves its temp beside the entry it was writing (dir-store.ts's tempPathFor).
  async () => {
    await mkdir(join(dir, 'shared', 'steps'), { recursive: true });
    await writeFile(join(dir, 'shared', 'steps', `.${KEY('e')}.pack.4242.0123456789ab.tmp`), Buffer.alloc(5000));
  },
);

describe('stepSync and store gc together', () => {
  it('lists what an owner uses in its reference', async () => {
    const store = openDirStore(join(dir, 'owned'));
    const { stepSync } = await import('../src/index');
    const sync = stepSync(store, { warn: (m) => expect.fail(m), owner: 'sweep-x/3' });
    await sync.reference('runs/sweep-x/3');
    await sync.reference('runs/sweep-x/3');
    const ref = await readReference(store, 'refs/sweep-x/3');
    expect(ref?.keys).toEqual(['runs/sweep-x/3']);
    expect(ref?.owner).toBe('sweep-x/3');
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
  gcContract(
    'the NATS object store',
    async () => {
      const connection = await connectQueue(server.url, { timeoutMs: 5000 });
      connections.push(connection);
      return openNatsStore(connection, server.url);
    },
    // A writer killed mid-put leaves parts no index entry names (nats-store.ts's tmp/<key>/<nuid>/<part>).
    async () => {
      const objects = await connections[0]?.jetstream().views.os(OBJECT_BUCKET);
      await objects?.putBlob({ name: `tmp/steps/${KEY('e')}/deadwriter/0` }, new Uint8Array(5000));
    },
  );
}
