/**
 * The artifact store in the NATS server that carries the work queue: blobs in a JetStream object
 * store, published through a key-value bucket. A put writes the blob under a fresh temp object
 * name (`tmp/<key>/<nuid>`), then publishes it by creating the key in the index bucket — `create`
 * succeeds only while the key is absent, so of two workers storing the same step the first
 * stands, and the second removes its temp object. A replacing put (a running step's checkpoints)
 * updates the index and then removes the object it pointed to. Readers follow the index, so they
 * never see a blob whose chunks are still arriving.
 */
import { ArtifactError, RuntimeError } from '@circuit-tuning/contracts';
import { type KV, type NatsConnection, nuid, type ObjectStore } from 'nats';
import { bucketKeys } from '../executor/queue';
import { type ArtifactStore, checkKey } from './artifact-store';

export const OBJECT_BUCKET = 'ct-artifacts';
export const INDEX_BUCKET = 'ct-artifacts-index';

/** Store keys are valid key-value keys as they are (checkKey keeps to the characters both allow). */
const indexKey = (key: string) => checkKey(key);

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
  const current = async (key: string) => {
    const entry = await index.get(indexKey(key));
    return entry === null || entry.operation !== 'PUT' ? undefined : entry;
  };
  return {
    description: `${description} (object store ${OBJECT_BUCKET})`,
    async put(key, data, putOptions = {}) {
      const name = `tmp/${checkKey(key)}/${nuid.next()}`;
      await objects.putBlob({ name }, data);
      if (putOptions.replace) {
        const previous = await current(key);
        await index.put(indexKey(key), new TextEncoder().encode(name));
        if (previous !== undefined) await objects.delete(previous.string()).catch(() => undefined);
        return 'stored';
      }
      try {
        await index.create(indexKey(key), new TextEncoder().encode(name));
        return 'stored';
      } catch (error) {
        // `create` fails when the key exists: another worker stored the same entry first.
        if ((await current(key)) === undefined) throw error;
        await objects.delete(name).catch(() => undefined);
        return 'exists';
      }
    },
    async get(key) {
      const entry = await current(key);
      if (entry === undefined) return undefined;
      const data = await objects.getBlob(entry.string());
      if (data === null) throw new ArtifactError(`${description}: ${key}`, `is indexed as object '${entry.string()}', which is missing`);
      return data;
    },
    async has(key) {
      return (await current(key)) !== undefined;
    },
    async remove(key) {
      const entry = await current(key);
      if (entry === undefined) return;
      await index.delete(indexKey(key));
      await objects.delete(entry.string()).catch(() => undefined);
    },
    async list(prefix) {
      const keys: string[] = [];
      for (const key of await bucketKeys(connection, INDEX_BUCKET, '>')) {
        if (key.startsWith(prefix) && (await current(key)) !== undefined) keys.push(key);
      }
      return keys.sort();
    },
    async close() {
      if (options.close) await connection.drain();
    },
  };
}
