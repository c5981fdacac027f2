import { ConfigError } from '@circuit-tuning/contracts';
import { BACKEND_CHOICES as backendNames } from '@circuit-tuning/pipeline';
import { type BackendInfo, initBackend } from '@circuit-tuning/runtime';

/** Starts the tensor backend from --backend/--threads (falling back to CT_BACKEND/CT_WASM_THREADS). */
export async function startBackend(values: Record<string, unknown>): Promise<BackendInfo> {
  const backend = values.backend as string | undefined;
  if (backend !== undefined && !(backendNames as readonly string[]).includes(backend)) {
    throw new ConfigError(`unknown backend '${backend}'`, { hint: `valid: ${backendNames.join(', ')}` });
  }
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw new ConfigError(`--threads must be a positive integer, got ${values.threads}`);
  }
  return initBackend({
    ...(backend === undefined ? {} : { backend: backend as (typeof backendNames)[number] }),
    ...(threads === undefined ? {} : { threads }),
  });
}
