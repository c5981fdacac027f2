/**
 * Which directories a stage may write into and clear. A stage directory is known by its
 * manifest.json; a directory without one was not made by a stage, and nothing in it is ever
 * overwritten or deleted: it is refused, or (when the caller allows it) written beside.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArtifactError, MANIFEST_FILE } from '@circuit-tuning/contracts';
import { isTempName } from '../fs/temp-names';

/** The lock a running stage holds in its directory. */
export const STAGE_LOCK_FILE = '.lock';

/**
 * `absent`; `empty` (nothing but a lock and temps of a killed run); `stage` (a stage's manifest is
 * there, possibly from another release); `foreign` (anything else, a plain file included).
 */
export type StageDirState = 'absent' | 'empty' | 'stage' | 'foreign';

export async function stageDirState(dir: string): Promise<StageDirState> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'absent';
    if (code === 'ENOTDIR') return 'foreign';
    throw new ArtifactError(dir, `cannot be read (${code ?? String(error)})`, { cause: error });
  }
  if (names.includes(MANIFEST_FILE) && (await looksLikeManifest(join(dir, MANIFEST_FILE)))) return 'stage';
  return names.every((name) => name === STAGE_LOCK_FILE || isTempName(name)) ? 'empty' : 'foreign';
}

/** The shape every release's stage manifest has (readManifest checks the rest); a web app's manifest.json is not one. */
async function looksLikeManifest(path: string): Promise<boolean> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as { stage?: { slot?: unknown; variant?: unknown }; configHash?: unknown };
    return typeof value.stage?.slot === 'string' && typeof value.stage.variant === 'string' && typeof value.configHash === 'string';
  } catch {
    return false;
  }
}
