/**
 * The artifact store as a shared directory: any POSIX mount every worker sees (NFS, a bind mount,
 * a local disk for one machine). Each entry is one file, `<root>/<key>.pack`, written under a temp
 * name beside it (the runtime's temp form, so it is recognised as a temp and never read) and then
 * published: with link(2) when the entry must not be replaced — link fails when the name exists,
 * which is the atomic "create if absent" that POSIX and NFS both give — or with rename(2) when it
 * replaces (a running step's checkpoints). Entries are written and read as streams, a chunk at a
 * time (pack.ts), so a multi-GB step never sits in memory.
 */
import { randomBytes } from 'node:crypto';
import { type Dirent, existsSync } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { isTempName } from '@circuit-tuning/runtime';
import { type ArtifactStore, checkKey, type StoreEntry } from './artifact-store';
import { chunksOf } from './pack';

const SUFFIX = '.pack';

/** A temp beside `path` in the runtime's own temp form (packages/runtime/src/fs/temp-names.ts), so isTempName knows it. */
/** A temp this store made (tempPathFor's form): only those are ever listed as temps, and removed by store gc. */
const STORE_TEMP = /^\..+\.pack\.\d+\.[0-9a-f]{12}\.tmp$/;
const tempPathFor = (path: string) => join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);

export function openDirStore(root: string): ArtifactStore {
  const base = resolve(root);
  const pathOf = (key: string) => join(base, ...checkKey(key).split('/')) + SUFFIX;
  /** Every file under the root, temps apart from entries, with its size and time. */
  const walk = async (): Promise<{ entries: StoreEntry[]; temps: StoreEntry[] }> => {
    const entries: StoreEntry[] = [];
    const temps: StoreEntry[] = [];
    const visit = async (dir: string, at: string) => {
      let found: Dirent[];
      try {
        found = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of found) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          await visit(path, `${at}${entry.name}/`);
          continue;
        }
        const info = await stat(path).catch(() => undefined);
        if (info === undefined) continue;
        if (isTempName(entry.name) && STORE_TEMP.test(entry.name)) temps.push({ key: relative(base, path).split(sep).join('/'), bytes: info.size, modified: info.mtime });
        else if (entry.name.endsWith(SUFFIX)) entries.push({ key: `${at}${entry.name.slice(0, -SUFFIX.length)}`, bytes: info.size, modified: info.mtime });
      }
    };
    await visit(base, '');
    return { entries: entries.sort((a, b) => (a.key < b.key ? -1 : 1)), temps };
  };
  return {
    description: base,
    async put(key, data, options = {}) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      const temp = tempPathFor(path);
      try {
        const handle = await open(temp, 'w');
        try {
          for await (const chunk of chunksOf(data)) {
            let offset = 0;
            while (offset < chunk.length) offset += (await handle.write(chunk, offset, chunk.length - offset)).bytesWritten;
          }
          await handle.sync();
        } finally {
          await handle.close();
        }
        if (options.replace) {
          await rename(temp, path);
          return 'stored';
        }
        try {
          await link(temp, path);
          return 'stored';
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
          throw error;
        }
      } finally {
        await rm(temp, { force: true });
      }
    },
    async read(key) {
      // Opened here, so that a missing entry is `undefined` and not an error in the middle of a stream.
      const handle = await open(pathOf(key), 'r').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (handle === undefined) return undefined;
      return handle.createReadStream({ highWaterMark: 1 << 20 });
    },
    async get(key) {
      try {
        return new Uint8Array(await readFile(pathOf(key)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async has(key) {
      return existsSync(pathOf(key));
    },
    async remove(key) {
      await rm(pathOf(key), { force: true });
    },
    async list(prefix) {
      return (await walk()).entries.map((e) => e.key).filter((k) => k.startsWith(prefix));
    },
    async entries(prefix) {
      return (await walk()).entries.filter((e) => e.key.startsWith(prefix));
    },
    async temps() {
      return (await walk()).temps;
    },
    async removeTemp(key) {
      const path = resolve(base, key);
      if (!STORE_TEMP.test(basename(path)) || !path.startsWith(`${base}${sep}`)) throw new Error(`${key} is not a temp of the store at ${base}`);
      await rm(path, { force: true });
    },
    async close() {},
  };
}
