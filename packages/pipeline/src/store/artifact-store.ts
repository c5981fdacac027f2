/**
 * A shared artifact store: where workers on several machines (executor/queue.ts) find the steps
 * already computed anywhere, leave the steps they compute, keep a running step's checkpoints so
 * another worker can resume it, and hand back each finished trial's run directory.
 *
 * An entry is one blob under a key of '/'-separated segments (`steps/<sha256>`,
 * `partial/<sha256>`, `runs/<sweep>/<trial>`). Writes are atomic in both implementations: the
 * blob goes under a temp name first and is then published under its key (dir-store.ts: link or
 * rename; nats-store.ts: a key-value entry created only if absent), so a reader sees a whole entry
 * or none, and of two workers storing the same content-addressed step the first stands and the
 * second is dropped. Directories travel packed (pack.ts) with every file's sha256, so an entry
 * damaged in transit or on disk is refused, never unpacked, and they travel as streams: neither
 * store holds a whole entry in memory, whatever its size.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '@circuit-tuning/contracts';
import { packStream, unpackStream } from './pack';

/** An entry's bytes, as `put` takes them: whole (small entries) or as a stream of chunks. */
export type EntryData = Uint8Array | AsyncIterable<Uint8Array>;

/** An entry, or a temp of a write (in progress or abandoned), with what store gc (gc.ts) weighs. */
export interface StoreEntry {
  key: string;
  bytes: number;
  /** When it was last written. */
  modified: Date;
}

export interface ArtifactStore {
  /** Where it is, for messages: a directory, or a server address without its credentials. */
  readonly description: string;
  /**
   * Stores `data` under `key`, streamed (the store holds a bounded part of it at a time). Without
   * `replace`, an entry already there stands and the result is 'exists' (content-addressed keys:
   * both are the same step); with it, the new entry replaces it.
   */
  put(key: string, data: EntryData, options?: { replace?: boolean }): Promise<'stored' | 'exists'>;
  /** The entry as a stream of chunks, or undefined when there is none. */
  read(key: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  /** The entry whole, or undefined (small entries: the store's id, a reference list). */
  get(key: string): Promise<Uint8Array | undefined>;
  has(key: string): Promise<boolean>;
  remove(key: string): Promise<void>;
  /** Keys under a prefix (`steps/`), sorted. */
  list(prefix: string): Promise<string[]>;
  /** The entries under a prefix with their sizes and times, sorted by key. */
  entries(prefix: string): Promise<StoreEntry[]>;
  /** The temps of writes not published (in progress, or left by a writer that died); `key` names the temp. */
  temps(): Promise<StoreEntry[]>;
  removeTemp(key: string): Promise<void>;
  close(): Promise<void>;
}


const SEGMENT = /^[A-Za-z0-9=_-][A-Za-z0-9=._-]*$/;

/** Refuses a key both stores could not hold the same way (a NATS key-value key, a relative path). */
export function checkKey(key: string): string {
  const segments = key.split('/');
  // No empty dot-separated token either: a NATS key-value key is a subject.
  if (!segments.every((s) => SEGMENT.test(s) && !s.endsWith('.') && !s.includes('..') && s.length <= 200)) {
    throw new ConfigError(`artifact store key '${key}': segments of letters, digits, '=', '.', '_' and '-' separated by '/'`);
  }
  return key;
}

/** The key of a trial's finished run directory (by its index: a trial's name may hold any grid value). */
export const runKey = (sweepId: string, trialIndex: number) => checkKey(`runs/${sweepId}/${trialIndex}`);

const STORE_ID_KEY = 'store-id';

/**
 * A store's identity: a random id written into it on first use (create-if-absent, so every user
 * reads the same one). A job names the store its sweep collects from by this id, never by its
 * address, and a worker whose own store has another id refuses the job instead of computing a
 * trial whose results the sweep would never see.
 */
export async function storeIdentity(store: ArtifactStore): Promise<string> {
  const read = async () => {
    const bytes = await store.get(STORE_ID_KEY);
    return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
  };
  const existing = await read();
  if (existing !== undefined) return existing;
  await store.put(STORE_ID_KEY, new TextEncoder().encode(createHash('sha256').update(`${Date.now()}:${Math.random()}:${process.pid}`).digest('hex').slice(0, 24)));
  return (await read()) as string;
}

/** Packs `dir` (pack.ts, streamed) and stores it under `key`. */
export async function putDir(store: ArtifactStore, key: string, dir: string, options: { replace?: boolean; include?: (relativePath: string) => boolean } = {}): Promise<'stored' | 'exists'> {
  if (!options.replace && (await store.has(checkKey(key)))) return 'exists';
  return store.put(key, packStream(dir, options.include), { replace: options.replace === true });
}

/** Fetches `key` into `dir` (absent, or replaced by `replace`), streamed; false when the store has no such entry. */
export async function getDir(store: ArtifactStore, key: string, dir: string, options: { replace?: (path: string) => Promise<void> } = {}): Promise<boolean> {
  const data = await store.read(checkKey(key));
  if (data === undefined) return false;
  await unpackStream(data, dir, `${store.description}: ${key}`, options);
  return true;
}
