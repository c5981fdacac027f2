/**
 * The artifact store in the NATS server that carries the work queue: blobs in a JetStream object
 * store, published through a key-value bucket. A put writes the entry under a fresh temp name
 * (`tmp/<key>/<nuid>`), then publishes it by creating the key in the index bucket — `create`
 * succeeds only while the key is absent, so of two workers storing the same step the first
 * stands, and the second removes its temp objects. A replacing put (a running step's checkpoints)
 * updates the index and then removes the objects it pointed to. Readers follow the index, so they
 * never see an entry whose bytes are still arriving.
 *
 * An entry is a series of objects of at most PART_BYTES each (`tmp/<key>/<nuid>/0`, `/1`, …),
 * written and read one at a time, and the index names them: the client's own streaming put reads
 * its source as fast as it can and keeps every chunk's publish in flight until the end (nats 2.29,
 * lib/jetstream/objectstore.js), which for a multi-GB checkpoint would hold all of it in memory.
 * Parts bound what a put or a get holds to one part.
 */
import { ArtifactError, RuntimeError } from '@circuit-tuning/contracts';
import { type KV, type KvEntry, type NatsConnection, nuid, type ObjectStore } from 'nats';
import { bucketKeys } from '../executor/queue';
import { type ArtifactStore, checkKey, type EntryData, type StoreEntry } from './artifact-store';
import { chunksOf, collect } from './pack';

export const OBJECT_BUCKET = 'ct-artifacts';
export const INDEX_BUCKET = 'ct-artifacts-index';
/** The most of an entry held in memory at once, writing or reading. */
export const PART_BYTES = 8 << 20;

/** Store keys are valid key-value keys as they are (checkKey keeps to the characters both allow). */
const indexKey = (key: string) => checkKey(key);

/** What the index holds for an entry: its parts, in order, and its size. */
interface IndexValue {
  parts: string[];
  bytes: number;
}

function readIndex(entry: KvEntry, where: string): IndexValue {
  try {
    const value = JSON.parse(entry.string()) as Partial<IndexValue>;
    if (Array.isArray(value.parts) && value.parts.every((p) => typeof p === 'string') && typeof value.bytes === 'number') return value as IndexValue;
  } catch {
    // reported below
  }
  throw new ArtifactError(where, 'has an index entry that is not a list of parts');
}

export async function openNatsStore(connection: NatsConnection, description: string, options: { close?: boolean } = {}): Promise<ArtifactStore> {
  const js = connection.jetstream();
  let objects: ObjectStore;
  let index: KV;
  try {
    objects = await js.views.os(OBJECT_BUCKET);
    index = await js.views.kv(INDEX_BUCKET, { history: 1 });
  } catch (error) {
    throw new RuntimeError(`the queue at ${description} has no JetStream (${(error as Error).message})`, { hint: 'start nats-server with -js' });
  }
  const where = (key: string) => `${description}: ${key}`;
  const current = async (key: string) => {
    const entry = await index.get(indexKey(key));
    return entry === null || entry.operation !== 'PUT' ? undefined : entry;
  };
  const removeParts = async (parts: readonly string[]) => {
    for (const part of parts) await objects.delete(part).catch(() => undefined);
  };
  /** Writes `data` as parts under a fresh temp name; their names and the size. */
  const writeParts = async (key: string, data: EntryData): Promise<IndexValue> => {
    const base = `tmp/${checkKey(key)}/${nuid.next()}`;
    const parts: string[] = [];
    let bytes = 0;
    let held: Buffer[] = [];
    let heldBytes = 0;
    const flush = async () => {
      const name = `${base}/${parts.length}`;
      parts.push(name);
      await objects.putBlob({ name }, Buffer.concat(held, heldBytes));
      held = [];
      heldBytes = 0;
    };
    try {
      for await (const chunk of chunksOf(data)) {
        let view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        bytes += view.length;
        while (heldBytes + view.length >= PART_BYTES) {
          const take = PART_BYTES - heldBytes;
          held.push(view.subarray(0, take));
          heldBytes += take;
          view = view.subarray(take);
          await flush();
        }
        if (view.length > 0) {
          // Copied: the producer may reuse its buffer once it gets control back.
          held.push(Buffer.from(view));
          heldBytes += view.length;
        }
      }
      if (heldBytes > 0 || parts.length === 0) await flush();
      return { parts, bytes };
    } catch (error) {
      await removeParts(parts);
      throw error;
    }
  };
  const readParts = async function* (key: string, value: IndexValue): AsyncGenerator<Uint8Array> {
    for (const part of value.parts) {
      const data = await objects.getBlob(part);
      if (data === null) throw new ArtifactError(where(key), `is indexed with object '${part}', which is missing`);
      yield data;
    }
  };
  const entries = async (prefix: string): Promise<StoreEntry[]> => {
    const out: StoreEntry[] = [];
    for (const key of await bucketKeys(connection, INDEX_BUCKET, '>')) {
      if (!key.startsWith(prefix)) continue;
      const entry = await current(key);
      if (entry !== undefined) out.push({ key, bytes: readIndex(entry, where(key)).bytes, modified: entry.created });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : 1));
  };
  return {
    description: `${description} (object store ${OBJECT_BUCKET})`,
    async put(key, data, putOptions = {}) {
      const value = await writeParts(key, data);
      const encoded = new TextEncoder().encode(JSON.stringify(value));
      if (putOptions.replace) {
        const previous = await current(key);
        await index.put(indexKey(key), encoded);
        if (previous !== undefined) await removeParts(readIndex(previous, where(key)).parts).catch(() => undefined);
        return 'stored';
      }
      try {
        await index.create(indexKey(key), encoded);
        return 'stored';
      } catch (error) {
        // `create` fails when the key exists: another worker stored the same entry first.
        if ((await current(key)) === undefined) {
          await removeParts(value.parts);
          throw error;
        }
        await removeParts(value.parts);
        return 'exists';
      }
    },
    async read(key) {
      const entry = await current(key);
      if (entry === undefined) return undefined;
      return readParts(key, readIndex(entry, where(key)));
    },
    async get(key) {
      const entry = await current(key);
      if (entry === undefined) return undefined;
      return collect(readParts(key, readIndex(entry, where(key))));
    },
    async has(key) {
      return (await current(key)) !== undefined;
    },
    async remove(key) {
      const entry = await current(key);
      if (entry === undefined) return;
      await index.delete(indexKey(key));
      await removeParts(readIndex(entry, where(key)).parts).catch(() => undefined);
    },
    async list(prefix) {
      return (await entries(prefix)).map((e) => e.key);
    },
    entries,
    async temps() {
      // Objects no index entry names: a put in progress, or one whose writer died.
      const named = new Set<string>();
      for (const key of await bucketKeys(connection, INDEX_BUCKET, '>')) {
        const entry = await current(key);
        if (entry !== undefined) for (const part of readIndex(entry, where(key)).parts) named.add(part);
      }
      const byWrite = new Map<string, StoreEntry>();
      for (const info of await objects.list()) {
        if (info.deleted || named.has(info.name) || !info.name.startsWith('tmp/')) continue;
        // One temp per write: its parts share the name up to the last '/'.
        const write = info.name.slice(0, info.name.lastIndexOf('/'));
        const seen = byWrite.get(write);
        const modified = new Date(info.mtime);
        byWrite.set(write, { key: write, bytes: (seen?.bytes ?? 0) + info.size, modified: seen === undefined || seen.modified < modified ? modified : seen.modified });
      }
      return [...byWrite.values()];
    },
    async removeTemp(key) {
      for (const info of await objects.list()) {
        if (!info.deleted && info.name.startsWith(`${key}/`)) await objects.delete(info.name);
      }
    },
    async close() {
      if (options.close) await connection.drain();
    },
  };
}
