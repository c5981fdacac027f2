/**
 * The artifact store as a shared directory: any POSIX mount every worker sees (NFS, a bind mount,
 * a local disk for one machine). Each entry is one file, `<root>/<key>.pack`, written under a temp
 * name beside it (the runtime's temp form, so it is recognised as a temp and never read) and then
 * published: with link(2) when the entry must not be replaced — link fails when the name exists,
 * which is the atomic "create if absent" that POSIX and NFS both give — or with rename(2) when it
 * replaces (a running step's checkpoints).
 */
import { type Dirent, existsSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { isTempName } from '@circuit-tuning/runtime';
import { type ArtifactStore, checkKey } from './artifact-store';

const SUFFIX = '.pack';

/** A temp beside `path` in the runtime's own temp form (packages/runtime/src/fs/temp-names.ts), so isTempName knows it. */
const tempPathFor = (path: string) => join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);

export function openDirStore(root: string): ArtifactStore {
  const base = resolve(root);
  const pathOf = (key: string) => join(base, ...checkKey(key).split('/')) + SUFFIX;
  return {
    description: base,
    async put(key, data, options = {}) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      const temp = tempPathFor(path);
      try {
        await writeFile(temp, data, { flush: true });
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
      const keys: string[] = [];
      const walk = async (dir: string, at: string) => {
        let entries: Dirent[];
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch {
          return;
        }
        for (const entry of entries) {
          if (isTempName(entry.name)) continue;
          if (entry.isDirectory()) await walk(join(dir, entry.name), `${at}${entry.name}/`);
          else if (entry.name.endsWith(SUFFIX)) keys.push(`${at}${entry.name.slice(0, -SUFFIX.length)}`);
        }
      };
      await walk(base, '');
      return keys.filter((k) => k.startsWith(prefix)).sort();
    },
    async close() {},
  };
}
