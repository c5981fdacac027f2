/**
 * Cleaning up after a kill: temp files and half-assembled folders (temp-names.ts) whose writing
 * process is gone. Called by whoever has just locked a directory, so no live writer of ours is
 * inside it, except under a sub-directory another process has locked, which is left alone.
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isLockLive, isProcessAlive, readLockOwner } from './lock-file';
import { tempNameOwner } from './temp-names';

export interface RemovedTemp {
  path: string;
  bytes: number;
}

/**
 * Removes, under `dir`, every temp of our forms whose process is not running (and is not this
 * one). Symbolic links are neither followed nor removed; a directory holding a live lock named
 * `lockName` is skipped.
 */
export async function removeStaleTemps(dir: string, options: { lockName?: string } = {}): Promise<RemovedTemp[]> {
  const removed: RemovedTemp[] = [];
  await sweep(dir, options.lockName, removed, true);
  return removed;
}

async function sweep(dir: string, lockName: string | undefined, removed: RemovedTemp[], top: boolean): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  if (!top && lockName !== undefined && entries.some((e) => e.name === lockName)) {
    const owner = await readLockOwner(join(dir, lockName));
    if (owner === 'unreadable' || (owner !== 'gone' && isLockLive(owner))) return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    const pid = tempNameOwner(entry.name);
    if (pid !== undefined && pid !== process.pid && !isProcessAlive(pid)) {
      const bytes = await sizeOf(path);
      await rm(path, { recursive: true, force: true });
      removed.push({ path, bytes });
    } else if (entry.isDirectory()) {
      await sweep(path, lockName, removed, false);
    }
  }
}

async function sizeOf(path: string): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of await readdir(path).catch(() => [] as string[])) total += await sizeOf(join(path, entry));
  return total;
}
