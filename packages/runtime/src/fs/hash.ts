/**
 * sha256 of files and directories, the identity of every artifact in a manifest. Files are
 * streamed so multi-gigabyte checkpoints hash in constant memory.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { unreadableFile } from './read-file';
import { isTempName } from './temp-names';

export function sha256Bytes(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (error) {
    throw unreadableFile(path, error);
  }
  return hash.digest('hex');
}

export interface TreeHash {
  sha256: string;
  /** Total bytes of the files hashed. */
  bytes: number;
  files: number;
}

/**
 * Hash of a directory: sha256 over the sorted lines `relative/path\0<file sha256>\n`, with `/`
 * separators on every platform. Sorting makes it independent of readdir order; temp files of
 * interrupted atomic writes are skipped because they are not part of the artifact.
 */
export async function sha256Tree(dir: string): Promise<TreeHash> {
  const files: string[] = [];
  await collectFiles(dir, files);
  const lines = files.map((file) => relative(dir, file).split(sep).join('/')).sort(compareCodeUnits);
  const hash = createHash('sha256');
  let bytes = 0;
  for (const rel of lines) {
    const full = join(dir, ...rel.split('/'));
    hash.update(`${rel}\0${await sha256File(full)}\n`);
    bytes += (await stat(full)).size;
  }
  return { sha256: hash.digest('hex'), bytes, files: lines.length };
}

async function collectFiles(dir: string, into: string[]): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw unreadableFile(dir, error);
  }
  for (const entry of entries) {
    if (isTempName(entry.name)) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await collectFiles(full, into);
    else if (entry.isFile()) into.push(full);
  }
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
