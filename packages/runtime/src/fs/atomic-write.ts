/**
 * The one atomic writer of the project: files and directories are written under a temporary name
 * in the same directory (tempPathFor, ./temp-names.ts), flushed, then renamed over the final name.
 * Rename within one directory is atomic on POSIX, so a reader (or a resumed pipeline after a kill)
 * sees either the old entry or the complete new one, never a torn one; the temp lives in the same
 * directory because a rename across filesystems is a copy. A temp left by a killed process carries
 * its pid, so the next start knows it is stale and removes it (./stale-temps.ts), and hashing skips
 * it (isTempName).
 */
import { existsSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ArtifactError } from '@circuit-tuning/contracts';
import { tempPathFor } from './temp-names';

/** What a file is written from: its bytes or text (UTF-8), or a function writing through the handle (a large file in pieces). */
export type FileContent = string | Uint8Array | ((handle: FileHandle) => Promise<void>);

export async function writeFileAtomic(path: string, content: FileContent): Promise<void> {
  const dir = dirname(path);
  const temp = tempPathFor(path);
  let handle: FileHandle;
  try {
    await mkdir(dir, { recursive: true });
    handle = await open(temp, 'wx');
  } catch (cause) {
    throw new ArtifactError(path, `cannot write (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
  }
  let renamed = false;
  try {
    try {
      if (typeof content === 'function') await content(handle);
      else await handle.writeFile(content);
      // Without fsync, a crash after rename can leave the final name pointing at empty blocks.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    renamed = true;
    await syncPath(dir);
  } finally {
    if (!renamed) await rm(temp, { force: true });
  }
}

/** Pretty JSON with a trailing newline: manifests and JSON artifacts are read by people too. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

export interface WriteDirOptions {
  /**
   * Called when `path` already exists, to remove it before the new directory is renamed in (a
   * directory cannot be renamed over a non-empty one). Only the caller knows what it may delete;
   * without it an existing `path` is an error.
   */
  replace?: (path: string) => Promise<void>;
}

/**
 * A directory assembled by `fill` under a temporary name beside `path`, every file in it flushed,
 * then renamed into place (a checkpoint, a model folder, a reused step). A failure or a kill
 * leaves no half-written `path`: the temp is removed now, or as stale at the next start.
 */
export async function writeDirAtomic(path: string, fill: (dir: string) => Promise<void>, options: WriteDirOptions = {}): Promise<void> {
  const parent = dirname(path);
  await mkdir(parent, { recursive: true });
  const temp = tempPathFor(path);
  await mkdir(temp);
  let renamed = false;
  try {
    await fill(temp);
    await syncTree(temp);
    if (existsSync(path)) {
      if (options.replace === undefined) throw new ArtifactError(path, 'exists; it is not replaced');
      await options.replace(path);
    }
    await rename(temp, path);
    renamed = true;
    await syncPath(parent);
  } finally {
    if (!renamed) await rm(temp, { recursive: true, force: true });
  }
}

/** Flushes every file and directory under `dir`, then `dir` itself. */
async function syncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await syncTree(path);
    else if (entry.isFile()) await syncPath(path);
  }
  await syncPath(dir);
}

/** Flushes a file, or a directory (which makes a rename in it durable). Best effort for directories: some platforms cannot open one. */
async function syncPath(path: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch {
    // Durability of a directory entry is a bonus; atomicity already holds.
  } finally {
    await handle.close();
  }
}
