/**
 * The names of temporary files and folders that an interrupted write leaves behind, so that they
 * can be skipped when a directory is hashed and removed at the next start. Every temp is named by
 * tempPathFor after the process that writes it (`.NAME.PID.HEX.tmp`, written by ./atomic-write.ts,
 * the project's one atomic writer), so a temp whose process is gone is known to be stale.
 *
 * Two older forms are still recognised, so that leftovers of earlier versions are cleaned up and
 * never hashed into a manifest: `.NAME.tmp-PID-HEX` (the model package's former safetensors
 * writer) and `step-N.tmp-PID` (the former checkpoint folder).
 */
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

const TEMP_FORMS: readonly RegExp[] = [/^\..+\.(\d+)\.[0-9a-f]+\.tmp$/, /^\..+\.tmp-(\d+)-[0-9a-f]+$/, /^step-\d+\.tmp-(\d+)$/];

/** A temporary name next to `path` (same directory, so the final rename stays atomic), owned by this process. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** The pid of the process that wrote a temp of one of our forms; undefined for any other name. */
export function tempNameOwner(name: string): number | undefined {
  for (const form of TEMP_FORMS) {
    const match = form.exec(name);
    if (match !== null) return Number(match[1]);
  }
  return undefined;
}

/** Whether a name is one of our temp forms; such entries are never part of an artifact. */
export function isTempName(name: string): boolean {
  // The older, looser test (a dot in front, `.tmp` at the end) is kept: hashes recorded before stay valid.
  return tempNameOwner(name) !== undefined || (name.startsWith('.') && name.endsWith('.tmp'));
}
