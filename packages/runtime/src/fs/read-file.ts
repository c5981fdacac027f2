import { readFile } from 'node:fs/promises';
import { ArtifactError } from '@circuit-tuning/contracts';

/** Why a file could not be read, as the ArtifactError every reader of artifacts throws. */
export function unreadableFile(path: string, error: unknown): ArtifactError {
  const code = (error as NodeJS.ErrnoException).code;
  const problem =
    code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a directory, expected a file' : `cannot be read (${code ?? String(error)})`;
  return new ArtifactError(path, problem, { cause: error });
}

/** A file's bytes, or an ArtifactError naming it and why it cannot be read. */
export async function readArtifactBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw unreadableFile(path, error);
  }
}

/** A text file (UTF-8), or an ArtifactError naming it and why it cannot be read. */
export async function readArtifactText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw unreadableFile(path, error);
  }
}
