/**
 * A user's own variant, as a module: `stage: ./my-variant.ts#myStage` in a pipeline loads the
 * named export (the default export without `#name`) with a dynamic import (tsx runs TypeScript
 * directly) and registers it like a built-in one. The module exports a `defineStage(...)` object.
 */
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '@circuit-tuning/contracts';
import { type AnyStageDefinition, defineStage, sha256File } from '@circuit-tuning/runtime';

export interface ModuleStage {
  definition: AnyStageDefinition;
  /** Absolute path of the module. */
  file: string;
  exportName: string;
  /** sha256 of the module file, recorded in manifests' versions. */
  sha256: string;
}

/** Splits `./file.ts#name` and resolves the file against `baseDir`. */
export function parseModuleReference(reference: string, baseDir: string): { file: string; exportName: string } {
  const hash = reference.lastIndexOf('#');
  const path = hash < 0 ? reference : reference.slice(0, hash);
  const exportName = hash < 0 ? 'default' : reference.slice(hash + 1);
  return { file: resolve(baseDir, path), exportName: exportName === '' ? 'default' : exportName };
}

export async function loadModuleStage(reference: string, baseDir: string): Promise<ModuleStage> {
  const { file, exportName } = parseModuleReference(reference, baseDir);
  if (!existsSync(file)) throw new ConfigError(`stage module '${reference}' not found (looked at ${file})`);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`stage module '${reference}' failed to load: ${(error as Error).message}`, { cause: error });
  }
  const candidate = module[exportName];
  if (!looksLikeStage(candidate)) {
    const stages = Object.keys(module).filter((name) => looksLikeStage(module[name]));
    throw new ConfigError(`stage module '${reference}': export '${exportName}' is not a stage definition`, {
      hint: stages.length === 0 ? 'export the object made by defineStage({...})' : `stage exports: ${stages.join(', ')}`,
    });
  }
  return { definition: defineStage(candidate), file, exportName, sha256: await sha256File(file) };
}

function looksLikeStage(value: unknown): value is AnyStageDefinition {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.slot === 'string' && typeof v.variant === 'string' && typeof v.version === 'number' && typeof v.run === 'function' && typeof v.config === 'object';
}
