/**
 * Atomic file writes. Every artifact is written under a temporary name in the same directory,
 * flushed, then renamed over the final name: rename within one directory is atomic on POSIX, so a
 * reader (or a resumed pipeline after a kill) sees either the old file or the complete new one,
 * never a torn one. The temp name lives in the same directory because rename across filesystems
 * is a copy, not atomic.
 */
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { tempPathFor } from './temp-names';

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = tempPathFor(path);
  let renamed = false;
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(data);
      // Without fsync, a crash after rename can leave the final name pointing at empty blocks.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    renamed = true;
    await syncDirectory(dir);
  } finally {
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
}

/** Pretty JSON with a trailing newline: manifests and JSON artifacts are read by people too. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Makes the rename itself durable. Best effort: some platforms cannot open a directory. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Durability of the directory entry is a bonus; atomicity already holds.
  }
}
