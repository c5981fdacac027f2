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
 * second is dropped. Directories travel packed (packDir below) with every file's sha256, so an
 * entry damaged in transit or on disk is refused, never unpacked.
 */
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { ArtifactError, ConfigError } from '@circuit-tuning/contracts';
import { isTempName, STAGE_LOCK_FILE, writeDirAtomic } from '@circuit-tuning/runtime';

export interface ArtifactStore {
  /** Where it is, for messages: a directory, or a server address without its credentials. */
  readonly description: string;
  /**
   * Stores `data` under `key`. Without `replace`, an entry already there stands and the result is
   * 'exists' (content-addressed keys: both are the same step); with it, the new entry replaces it.
   */
  put(key: string, data: Uint8Array, options?: { replace?: boolean }): Promise<'stored' | 'exists'>;
  /** The entry, or undefined when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  has(key: string): Promise<boolean>;
  remove(key: string): Promise<void>;
  /** Keys under a prefix (`steps/`), sorted. */
  list(prefix: string): Promise<string[]>;
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

const PACK_FORMAT = 'ct-dir/1';
interface PackedFile {
  path: string;
  bytes: number;
  sha256: string;
}

/** What never travels: lock files and the temps of writes in progress (runtime's temp-names.ts). */
function travels(name: string): boolean {
  return name !== STAGE_LOCK_FILE && name !== 'lock' && !isTempName(name);
}

/**
 * The files under `dir` (those `include` accepts, by path relative to `dir`) as one blob: a
 * header line with each file's path, size and sha256, then their bytes. A file that vanishes
 * while it is read (a checkpoint pruned by the trainer) is left out.
 */
export async function packDir(dir: string, include: (relativePath: string) => boolean = () => true): Promise<Uint8Array> {
  const files: PackedFile[] = [];
  const chunks: Uint8Array[] = [];
  const walk = async (at: string) => {
    let entries: Dirent[];
    try {
      entries = await readdir(at, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!travels(entry.name)) continue;
      const path = join(at, entry.name);
      const rel = relative(dir, path).split(sep).join('/');
      if (entry.isDirectory()) {
        if (include(`${rel}/`)) await walk(path);
      } else if (entry.isFile() && include(rel)) {
        let bytes: Buffer;
        try {
          bytes = await readFile(path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw error;
        }
        files.push({ path: rel, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
        chunks.push(bytes);
      }
    }
  };
  await walk(dir);
  const header = Buffer.from(`${JSON.stringify({ format: PACK_FORMAT, files })}\n`);
  return Buffer.concat([header, ...chunks]);
}

/** The header of a packed directory, checked: every file's bytes are there and hash as recorded. */
export function readPack(data: Uint8Array, where: string): { files: PackedFile[]; body: (file: PackedFile) => Uint8Array } {
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const newline = buffer.indexOf(10);
  let header: { format?: unknown; files?: unknown };
  try {
    header = JSON.parse(buffer.subarray(0, newline).toString('utf8')) as typeof header;
  } catch {
    throw new ArtifactError(where, 'is not a packed directory (its header is not JSON)');
  }
  if (header.format !== PACK_FORMAT || !Array.isArray(header.files)) throw new ArtifactError(where, `is not a packed directory of format ${PACK_FORMAT}`);
  const files = header.files as PackedFile[];
  const offsets = new Map<PackedFile, number>();
  let offset = newline + 1;
  for (const file of files) {
    if (typeof file.path !== 'string' || file.path.split('/').some((s) => s === '..' || s === '') || file.path.startsWith('/')) throw new ArtifactError(where, `holds a file outside its directory ('${String(file.path)}')`);
    offsets.set(file, offset);
    offset += file.bytes;
  }
  if (offset !== buffer.length) throw new ArtifactError(where, `is truncated or padded (${buffer.length} bytes, the header accounts for ${offset})`);
  const body = (file: PackedFile) => buffer.subarray(offsets.get(file) as number, (offsets.get(file) as number) + file.bytes);
  for (const file of files) {
    if (createHash('sha256').update(body(file)).digest('hex') !== file.sha256) throw new ArtifactError(where, `file '${file.path}' does not hash as recorded`);
  }
  return { files, body };
}

/** Unpacks a checked blob into `dir`, which is assembled under a temp name and renamed in (runtime's writeDirAtomic). */
export async function unpackDir(data: Uint8Array, dir: string, where: string, options: { replace?: (path: string) => Promise<void> } = {}): Promise<void> {
  const pack = readPack(data, where);
  await writeDirAtomic(
    dir,
    async (temp) => {
      for (const file of pack.files) {
        const path = join(temp, ...file.path.split('/'));
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, pack.body(file));
      }
    },
    options.replace === undefined ? {} : { replace: options.replace },
  );
}

/** Packs `dir` and stores it under `key`. */
export async function putDir(store: ArtifactStore, key: string, dir: string, options: { replace?: boolean; include?: (relativePath: string) => boolean } = {}): Promise<'stored' | 'exists'> {
  if (!options.replace && (await store.has(checkKey(key)))) return 'exists';
  const data = await packDir(dir, options.include);
  return store.put(key, data, { replace: options.replace === true });
}

/** Fetches `key` into `dir` (absent, or replaced by `replace`); false when the store has no such entry. */
export async function getDir(store: ArtifactStore, key: string, dir: string, options: { replace?: (path: string) => Promise<void> } = {}): Promise<boolean> {
  const data = await store.get(checkKey(key));
  if (data === undefined) return false;
  await unpackDir(data, dir, `${store.description}: ${key}`, options);
  return true;
}
