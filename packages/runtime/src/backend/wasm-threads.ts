import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

/**
 * The threads loader: starts tfjs-backend-wasm's threaded SIMD binary under Node.
 *
 * tfjs turns wasm threads off in Node (`WASM_HAS_MULTITHREAD_SUPPORT` is false when IS_NODE).
 * Forcing the flag is not enough, for three reasons, each handled here for the duration of the
 * backend's initialisation only:
 * 1. tfjs hands Emscripten `blob:` URLs for the pthread worker script and the main script, and
 *    Node's worker_threads cannot load them (ERR_WORKER_PATH). The loader records the text of
 *    those Blobs and writes them to files in a temporary directory instead.
 * 2. The main script is the threaded factory stringified out of the Rollup node bundle, so it
 *    names bundle-level variables (`require$$0`, `commonjsGlobal`) that the workers lack; a
 *    prelude defines them.
 * 3. XNNPACK caps its threads at emscripten_num_logical_cores()/2 (it assumes SMT), which in Node
 *    is os.cpus().length / 2: one thread on a 2-core machine. os.cpus reports every core twice
 *    while the backend starts.
 * All of it depends on the internals of the 4.22.0 node bundle, hence the exact version pin.
 */

/** The tfjs-backend-wasm version whose bundle the loader was written against. */
export const THREADS_LOADER_WASM_VERSION = '4.22.0';

/** Why the loader must not run with this package version, or undefined when it may. */
export function threadsLoaderRefusal(wasmVersion: string): string | undefined {
  if (wasmVersion === THREADS_LOADER_WASM_VERSION) return undefined;
  return `the threads loader supports tfjs-backend-wasm ${THREADS_LOADER_WASM_VERSION} only, found ${wasmVersion}`;
}

/** The threaded factory's Blob starts with this (tfjs's init() builds it by string concatenation). */
const MAIN_SCRIPT_START = 'var WasmBackendModuleThreadedSimd';

/** The bundle-level names the stringified factory uses, and what the bundle binds them to. */
const BUNDLE_NAMES: Readonly<Record<string, string>> = {
  require$$0: "require('fs')",
  require$$1: "require('path')",
  require$$3: "require('perf_hooks')",
  require$$4: "require('os')",
  commonjsGlobal: 'globalThis',
};

/** In the worker script: how it loads the main script when handed a Blob (via a blob: URL). */
const WORKER_IMPORT =
  /if\(typeof e\.data\.urlOrBlob=="string"\)\{importScripts\(e\.data\.urlOrBlob\)\}else\{[^}]*\}/;

// `import os` is a read-only binding; the loader swaps `cpus` on the module object itself, the one
// the bundle reaches through require('os').
const mutableOs = createRequire(import.meta.url)('node:os') as { cpus: typeof os.cpus };

let running = false;

/**
 * Runs `start` (which must initialise the wasm backend) with the loader in place, then puts
 * Blob, URL.createObjectURL and os.cpus back and deletes the scripts, whatever happens.
 *
 * Deleting them at once is safe: the module reports ready only after each of the 8 pooled
 * workers has loaded (Emscripten holds a run dependency until then), and no thread count the
 * runtime allows needs more workers. So nothing is left in the temp dir, even if the process is
 * killed.
 */
export async function withThreadsLoader<T>(start: () => Promise<T>): Promise<T> {
  if (running) throw new Error('the wasm threads loader is already running');
  running = true;
  // The pid in the name tells one process's scripts from another's (tests check their own are gone).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ct-wasm-threads-${process.pid}-`));
  const mainScript = path.join(dir, 'main.js');
  const texts = new WeakMap<object, string>();

  const RealBlob = globalThis.Blob;
  const realCreateObjectURL = URL.createObjectURL;
  const realCpus = mutableOs.cpus;

  class RecordingBlob extends RealBlob {
    constructor(...args: ConstructorParameters<typeof Blob>) {
      super(...args);
      const [parts] = args;
      if (!Array.isArray(parts) || !parts.every((p) => typeof p === 'string')) return;
      const text = parts.join('');
      texts.set(this, text);
      // Workers receive the main script as this Blob and turn it into a blob: URL themselves,
      // so it is written out here; the worker script is rewritten to load the file.
      if (text.startsWith(MAIN_SCRIPT_START)) fs.writeFileSync(mainScript, mainScriptSource(text));
    }
  }

  let workerFiles = 0;
  const createObjectURL = (blob: Parameters<typeof URL.createObjectURL>[0]): string => {
    const text = texts.get(blob);
    if (text === undefined) return realCreateObjectURL(blob);
    const file = path.join(dir, `worker-${workerFiles++}.js`);
    fs.writeFileSync(file, workerScriptSource(text, mainScript));
    return file;
  };

  globalThis.Blob = RecordingBlob;
  URL.createObjectURL = createObjectURL;
  mutableOs.cpus = () => {
    const cpus = realCpus.call(os);
    return [...cpus, ...cpus];
  };
  try {
    return await start();
  } finally {
    globalThis.Blob = RealBlob;
    URL.createObjectURL = realCreateObjectURL;
    mutableOs.cpus = realCpus;
    fs.rmSync(dir, { recursive: true, force: true });
    running = false;
  }
}

function mainScriptSource(factoryText: string): string {
  const used = new Set(factoryText.match(/\brequire\$\$\d+\b|\bcommonjsGlobal\b/g) ?? []);
  const unknown = [...used].filter((name) => !(name in BUNDLE_NAMES));
  if (unknown.length > 0) {
    throw new Error(`threads loader: the wasm factory uses unknown bundle names ${unknown.join(', ')}`);
  }
  const prelude = [...used].map((name) => `var ${name} = ${BUNDLE_NAMES[name]};`).join(' ');
  return `${prelude}\n${factoryText}`;
}

function workerScriptSource(text: string, mainScript: string): string {
  if (!text.includes('e.data.urlOrBlob')) return text;
  if (!WORKER_IMPORT.test(text)) {
    throw new Error('threads loader: the pthread worker script has an unexpected shape');
  }
  return text.replace(WORKER_IMPORT, `importScripts(${JSON.stringify(mainScript)});`);
}
