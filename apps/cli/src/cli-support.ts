/**
 * What the pipeline commands share: paths as the user typed them, the backend a pipeline asks
 * for, cancellation on Ctrl-C, and the versions every manifest records.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '@circuit-tuning/contracts';
import { type BackendInfo, initBackend } from '@circuit-tuning/runtime';
import { BACKEND_CHOICES, type BackendChoice } from '@circuit-tuning/pipeline';

/**
 * A path as the user meant it: relative to the directory the user started in. pnpm runs a
 * script (`pnpm start`, `pnpm ct`) in the repository root and passes that directory as INIT_CWD;
 * `pnpm exec ct` and the bin called directly run where the user stands.
 */
export function userPath(path: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), path);
}

/** A repeatable option's values (parseArgs gives a string or an array). */
export function listOption(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** `a,b,c` options, possibly repeated. */
export function csvOption(value: unknown): string[] {
  return listOption(value)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export function backendChoice(value: unknown): BackendChoice | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new ConfigError(`unknown backend '${String(value)}'`, { hint: `valid: ${BACKEND_CHOICES.join(', ')}` });
}

export function positiveInt(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${option} must be a non-negative integer, got '${String(value)}'`);
  return n;
}

/** Starts the backend a pipeline (or the command line) asks for. */
export function startPipelineBackend(backend: BackendChoice, threads: number | undefined): Promise<BackendInfo> {
  return initBackend({ backend, ...(threads === undefined ? {} : { threads }) });
}

/**
 * An abort signal for Ctrl-C / SIGTERM: the running stage stops at its next check and its manifest
 * says `failed` (aborted), so a rerun resumes. A second Ctrl-C exits at once.
 */
export function cancelOnSignals(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${name}: stopping; run the same command again to resume (${name} again quits at once)\n`);
    controller.abort(new Error(`cancelled by ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

let cliVersion: string | undefined;
/** Versions recorded in manifests besides node's and the runtime's. */
export function appVersions(backend?: BackendInfo): Record<string, string> {
  if (cliVersion === undefined) {
    try {
      cliVersion = String((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      cliVersion = 'unknown';
    }
  }
  return { '@circuit-tuning/cli': cliVersion, ...(backend === undefined ? {} : { '@tensorflow/tfjs-core': backend.tfjsVersion }) };
}

// Declared beside the commands' info (they appear in its usage texts), used by the commands.
export { EXIT_CANCELLED, EXIT_NOT_REPRODUCED } from './command';
