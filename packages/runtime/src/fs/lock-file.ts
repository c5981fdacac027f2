/**
 * An exclusive lock on a directory: a file created with O_EXCL (`wx`), so two processes can never
 * both believe they created it, holding the owner's pid and host. A lock whose process is gone
 * (same host; a pid on another host cannot be checked) is stale: it is taken over and the caller
 * is told, so that it can say so.
 */
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { ArtifactError, ConfigError } from '@circuit-tuning/contracts';
import { tempPathFor } from './temp-names';

export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
  /** What holds it (`ct run`, `stage discover:eap`), for the message a second process gets. */
  purpose: string;
}

export interface HeldLock {
  path: string;
  /** A stale lock (its process was gone) that was removed to take this one. */
  replaced: LockOwner | undefined;
  release(): Promise<void>;
}

export async function acquireLock(path: string, purpose: string): Promise<HeldLock> {
  const owner: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), purpose };
  let replaced: LockOwner | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createExclusive(path, `${JSON.stringify(owner)}\n`)) {
      return { path, replaced, release: () => releaseLock(path, owner) };
    }
    const holder = await readLockOwner(path);
    if (holder === 'gone') continue;
    if (holder === 'unreadable') {
      throw new ConfigError(`${dirname(path)} is locked (${path}) by a process that cannot be identified`, {
        hint: `if nothing is running in ${dirname(path)}, delete ${path}`,
      });
    }
    if (!isStale(holder)) {
      throw new ConfigError(`${dirname(path)} is in use by process ${holder.pid} on ${holder.host} (${holder.purpose}, since ${holder.startedAt})`, {
        hint: 'wait for it to finish, or use another directory',
      });
    }
    if (await removeIfStill(path, holder)) replaced = holder;
  }
  throw new ConfigError(`${dirname(path)}: could not take the lock ${path} (other processes keep taking it)`);
}

/** The owner of a lock file: `gone` when there is none, `unreadable` when it does not say. */
export async function readLockOwner(path: string): Promise<LockOwner | 'gone' | 'unreadable'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    return 'unreadable';
  }
  let value: Partial<LockOwner> | number | undefined;
  try {
    value = JSON.parse(text) as Partial<LockOwner> | number;
  } catch {
    value = undefined;
  }
  // Before locks were JSON they held the pid alone: a run killed then still counts as stale.
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return { pid: value, host: hostname(), startedAt: '?', purpose: '?' };
  if (typeof value === 'object' && value !== null && Number.isSafeInteger(value.pid) && (value.pid as number) > 0 && typeof value.host === 'string') {
    return { pid: value.pid as number, host: value.host, startedAt: String(value.startedAt ?? '?'), purpose: String(value.purpose ?? '?') };
  }
  return 'unreadable';
}

/** Whether a lock is held by a live process (or one that cannot be checked from here). */
export function isLockLive(owner: LockOwner): boolean {
  return !isStale(owner);
}

function isStale(owner: LockOwner): boolean {
  return owner.host === hostname() && owner.pid !== process.pid && !isProcessAlive(owner.pid);
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function createExclusive(path: string, text: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    throw new ArtifactError(path, `cannot create the lock (${code ?? String(error)})`, { cause: error });
  }
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Removes a stale lock unless another process replaced it meanwhile: the file is renamed away
 * first (atomic), and put back if what was renamed is not the stale owner's.
 */
async function removeIfStill(path: string, stale: LockOwner): Promise<boolean> {
  const grave = tempPathFor(path);
  try {
    await rename(path, grave);
  } catch {
    return false;
  }
  const taken = await readLockOwner(grave);
  if (taken !== 'gone' && taken !== 'unreadable' && taken.pid === stale.pid && taken.startedAt === stale.startedAt) {
    await unlink(grave).catch(() => undefined);
    return true;
  }
  await rename(grave, path).catch(() => undefined);
  return false;
}

async function releaseLock(path: string, owner: LockOwner): Promise<void> {
  const holder = await readLockOwner(path);
  if (holder !== 'gone' && holder !== 'unreadable' && holder.pid === owner.pid && holder.startedAt === owner.startedAt) {
    await unlink(path).catch(() => undefined);
  }
}
