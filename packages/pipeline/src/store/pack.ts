/**
 * A directory as one stream of bytes, for the artifact store (artifact-store.ts), written and read
 * a chunk at a time so that memory stays bounded whatever the size of the directory (a
 * multi-GB checkpoint passes through a megabyte or so). Format `ct-dir/2`, lines of JSON around
 * the raw bytes of each file:
 *
 *   {"format":"ct-dir/2"}
 *   {"path":"model/weights.safetensors","bytes":N}   then N bytes
 *   {"sha256":"…"}                                    the hash of those bytes
 *   … one such record per file …
 *   {"end":true,"files":K}
 *
 * A file's hash follows its bytes, so a writer reads each file once; a reader checks each file as
 * it arrives and refuses the entry — nothing is published in the target directory — when a hash
 * differs, the stream stops before its end record, or bytes follow it.
 */
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { ArtifactError } from '@circuit-tuning/contracts';
import { isTempName, STAGE_LOCK_FILE, writeDirAtomic } from '@circuit-tuning/runtime';

export const PACK_FORMAT = 'ct-dir/2';
/** How much of a file is read (and held) at a time. */
const READ_BYTES = 1 << 20;
/** A JSON line longer than this is not one of ours. */
const MAX_LINE = 64 * 1024;

export interface PackedFile {
  path: string;
  bytes: number;
  sha256: string;
}

/** What never travels: lock files and the temps of writes in progress (runtime's temp-names.ts). */
function travels(name: string): boolean {
  return name !== STAGE_LOCK_FILE && name !== 'lock' && !isTempName(name);
}

const line = (value: unknown) => Buffer.from(`${JSON.stringify(value)}\n`);

/** The files under `dir` that `include` accepts (by path relative to `dir`, a directory's with a trailing '/'), sorted. */
async function filesUnder(dir: string, include: (relativePath: string) => boolean): Promise<string[]> {
  const out: string[] = [];
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
      } else if (entry.isFile() && include(rel)) out.push(rel);
    }
  };
  await walk(dir);
  return out;
}

/**
 * The files under `dir` as a stream in the format above, each read a megabyte at a time. A file
 * that vanishes before it is opened (a checkpoint pruned by the trainer) is left out; one that
 * shrinks while it is read fails the stream (the caller stores nothing).
 */
export async function* packStream(dir: string, include: (relativePath: string) => boolean = () => true): AsyncGenerator<Uint8Array> {
  yield line({ format: PACK_FORMAT });
  let files = 0;
  for (const rel of await filesUnder(dir, include)) {
    const path = join(dir, ...rel.split('/'));
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      yield line({ path: rel, bytes: size });
      const hash = createHash('sha256');
      let left = size;
      while (left > 0) {
        // A fresh buffer each time: the consumer may still hold the one before.
        const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, left));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, size - left);
        if (bytesRead === 0) throw new ArtifactError(path, `shrank while it was stored (${size} bytes when opened)`);
        const chunk = buffer.subarray(0, bytesRead);
        hash.update(chunk);
        left -= bytesRead;
        yield chunk;
      }
      yield line({ sha256: hash.digest('hex') });
      files += 1;
    } finally {
      await handle.close();
    }
  }
  yield line({ end: true, files });
}

/** Where a reader puts each file's bytes (a file under the target directory, or nowhere). */
interface FileSink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * Reads a pack from `source`, handing each file's bytes to the sink `open` gives for it and
 * checking its hash; returns the files. Throws an ArtifactError naming `where` for anything that
 * is not a whole, intact pack.
 */
export async function readPackStream(source: AsyncIterable<Uint8Array>, where: string, openFile: (file: { path: string; bytes: number }) => Promise<FileSink>): Promise<PackedFile[]> {
  const bad = (problem: string) => new ArtifactError(where, problem);
  const files: PackedFile[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let state: 'format' | 'record' | 'body' | 'trailer' | 'done' = 'format';
  let current: { path: string; bytes: number; left: number; hash: ReturnType<typeof createHash>; sink: FileSink } | undefined;
  const parse = (text: Buffer): Record<string, unknown> => {
    try {
      const value = JSON.parse(text.toString('utf8')) as unknown;
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // reported below
    }
    throw bad(state === 'format' ? `is not a packed directory (format ${PACK_FORMAT})` : 'is damaged (a record is not JSON)');
  };
  try {
    for await (const chunk of source) {
      const view: Buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      pending = pending.length === 0 ? view : Buffer.concat([pending, view]);
      while (pending.length > 0) {
        if (state === 'done') throw bad('is padded (bytes follow its end record)');
        if (state === 'body' && current !== undefined) {
          const take = Math.min(current.left, pending.length);
          const piece = pending.subarray(0, take);
          current.hash.update(piece);
          await current.sink.write(piece);
          current.left -= take;
          pending = pending.subarray(take);
          if (current.left === 0) state = 'trailer';
          continue;
        }
        const newline = pending.indexOf(10);
        if (newline < 0) {
          if (pending.length > MAX_LINE) throw bad(state === 'format' ? `is not a packed directory (format ${PACK_FORMAT})` : 'is damaged (a record line is too long)');
          break;
        }
        const record = parse(pending.subarray(0, newline));
        pending = pending.subarray(newline + 1);
        if (state === 'format') {
          if (record.format !== PACK_FORMAT) throw bad(`is not a packed directory of format ${PACK_FORMAT} (format ${JSON.stringify(record.format)})`);
          state = 'record';
        } else if (state === 'trailer' && current !== undefined) {
          const sha256 = current.hash.digest('hex');
          await current.sink.close();
          if (record.sha256 !== sha256) throw bad(`file '${current.path}' does not hash as recorded`);
          files.push({ path: current.path, bytes: current.bytes, sha256 });
          current = undefined;
          state = 'record';
        } else if (record.end === true) {
          if (record.files !== files.length) throw bad(`is damaged (its end record counts ${String(record.files)} files, it holds ${files.length})`);
          state = 'done';
        } else {
          const { path, bytes } = record;
          if (typeof path !== 'string' || path === '' || path.startsWith('/') || path.split('/').some((s) => s === '..' || s === '' || s === '.')) throw bad(`holds a file outside its directory ('${String(path)}')`);
          if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) throw bad(`is damaged (file '${path}' has no size)`);
          current = { path, bytes, left: bytes, hash: createHash('sha256'), sink: await openFile({ path, bytes }) };
          state = bytes === 0 ? 'trailer' : 'body';
        }
      }
    }
    if (state !== 'done') throw bad('is truncated (it ends before its end record)');
    return files;
  } finally {
    await current?.sink.close().catch(() => undefined);
  }
}

/** Checks a whole pack held in memory (small entries, tests): its files, every hash checked. */
export async function readPack(data: Uint8Array, where: string): Promise<{ files: PackedFile[] }> {
  const nowhere: FileSink = { write: async () => undefined, close: async () => undefined };
  return { files: await readPackStream(chunksOf(data), where, async () => nowhere) };
}

/**
 * Unpacks a stream into `dir`, which is assembled under a temp name and renamed in (runtime's
 * writeDirAtomic): a pack refused halfway leaves nothing at `dir`.
 */
export async function unpackStream(source: AsyncIterable<Uint8Array>, dir: string, where: string, options: { replace?: (path: string) => Promise<void> } = {}): Promise<void> {
  await writeDirAtomic(
    dir,
    async (temp) => {
      await readPackStream(source, where, async (file) => {
        const path = join(temp, ...file.path.split('/'));
        await mkdir(dirname(path), { recursive: true });
        const handle = await open(path, 'w');
        let closed = false;
        return {
          write: async (chunk) => {
            let offset = 0;
            while (offset < chunk.length) offset += (await handle.write(chunk, offset, chunk.length - offset)).bytesWritten;
          },
          close: async () => {
            if (closed) return;
            closed = true;
            await handle.close();
          },
        };
      });
    },
    options.replace === undefined ? {} : { replace: options.replace },
  );
}

/** Data as a stream of chunks (a whole buffer is one chunk). */
export async function* chunksOf(data: Uint8Array | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) yield data;
  else yield* data;
}

/** All of a stream in one buffer (small entries only: a store id, a reference list). */
export async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  return Buffer.concat(chunks);
}
