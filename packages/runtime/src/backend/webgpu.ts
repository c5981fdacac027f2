import { readdirSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RuntimeError } from '@circuit-tuning/contracts';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { activateBackend, backendInstance } from './activate';
import type { GpuAdapter } from './info';
import { BackendLoadError, firstLine, requireOptional, resolveOptional } from './optional-package';
import { tf } from './tf';
import { applyWebgpuKernels } from './webgpu-kernels';

/**
 * The WebGPU backend under Node: the `webgpu` package (Dawn for Node) provides `navigator.gpu`,
 * and @tensorflow/tfjs-backend-webgpu registers 'webgpu' on it. Both are optional dependencies of
 * this package (a machine where they cannot install still installs the rest).
 *
 * Adapters: Dawn's default (Vulkan on Linux, Metal on macOS, D3D12 on Windows), high-performance
 * (discrete) first. A software adapter (Mesa llvmpipe/lavapipe, SwiftShader) runs tfjs about 8×
 * slower than wasm (docs/runtime.md §10), so it is used only when CT_WEBGPU_ALLOW_SOFTWARE=1 and
 * `webgpu` is asked for by name: then, where Dawn's default finds no adapter, Mesa's OpenGL ES
 * driver is tried on a surfaceless EGL display (how CI runs the backend-parameterised suite).
 * Dawn flags (e.g. `backend=opengles`) can be given in CT_WEBGPU_DAWN_FLAGS, separated by spaces.
 */

export const WEBGPU_ALLOW_SOFTWARE_ENV = 'CT_WEBGPU_ALLOW_SOFTWARE';
export const WEBGPU_DAWN_FLAGS_ENV = 'CT_WEBGPU_DAWN_FLAGS';

/** Dawn's flag for Mesa's OpenGL ES driver, the software path that works on a machine without a GPU. */
const SOFTWARE_DAWN_FLAGS = ['backend=opengles'];

/** What an adapter tells about itself (GPUAdapterInfo, in any of its spec versions). */
export interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}

interface Adapter {
  info?: AdapterInfo;
  isFallbackAdapter?: boolean;
  requestAdapterInfo?: () => Promise<AdapterInfo>;
}

interface Gpu {
  requestAdapter(options?: Record<string, unknown>): Promise<Adapter | null>;
}

interface Dawn {
  create(flags: string[]): Gpu;
  globals?: Record<string, unknown>;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software/i;

/** A readable name for the adapter when it is a software renderer, else undefined. */
export function softwareAdapterName(info: AdapterInfo, isFallbackAdapter = false): string | undefined {
  const text = adapterName(info);
  if (SOFTWARE.test(text)) return text;
  return isFallbackAdapter ? text || 'a fallback adapter' : undefined;
}

function adapterName(info: AdapterInfo): string {
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s): s is string => typeof s === 'string' && s !== '');
  return [...new Set(parts)].join(' ');
}

/**
 * Whether this machine shows a GPU at all, without loading Dawn: `auto` tries webgpu only then,
 * so a CPU-only machine neither loads a 20 MB binary nor hears Dawn's warnings on each run.
 * macOS and Windows always have a GPU adapter of some kind.
 */
export function gpuDevicePresent(platform: NodeJS.Platform = process.platform, dev = '/dev'): boolean {
  if (platform === 'darwin' || platform === 'win32') return true;
  try {
    return readdirSync(dev).some((name) => /^nvidia\d+$/.test(name) || name === 'kfd') || readdirSync(join(dev, 'dri')).some((name) => name.startsWith('renderD'));
  } catch {
    return false;
  }
}

/**
 * Starts tfjs's webgpu backend. `automatic` (the `auto` request): a machine without a GPU, or
 * one where Dawn finds only a software adapter, is skipped (missing) rather than used.
 */
export async function startWebgpu(options: { automatic: boolean }): Promise<GpuAdapter> {
  if (options.automatic && !gpuDevicePresent()) throw new BackendLoadError('no GPU device on this machine', { missing: true });
  if (running !== undefined && backendInstance('webgpu') !== undefined) {
    // Switching back to a webgpu backend that is still alive: its device stays, no second Dawn.
    if (running.software && (options.automatic || process.env[WEBGPU_ALLOW_SOFTWARE_ENV] !== '1')) throw softwareRefusal(running.name, options.automatic);
    await activate();
    return running;
  }
  const dawn = await loadDawn();
  const allowSoftware = !options.automatic && process.env[WEBGPU_ALLOW_SOFTWARE_ENV] === '1';
  const userFlags = (process.env[WEBGPU_DAWN_FLAGS_ENV] ?? '').split(/\s+/).filter((f) => f !== '');
  const tries = [userFlags];
  if (allowSoftware && userFlags.length === 0) tries.push(SOFTWARE_DAWN_FLAGS);
  let found: { gpu: Gpu; adapter: Adapter; compatibility: boolean; flags: string[] } | undefined;
  for (const flags of tries) {
    const gpu = createGpu(dawn, flags);
    const adapter = await findAdapter(gpu);
    if (adapter !== undefined) {
      found = { gpu, ...adapter, flags };
      break;
    }
  }
  if (found === undefined) {
    const tried = tries.map((flags) => (flags.length === 0 ? "Dawn's default" : flags.join(' '))).join(', then ');
    throw new BackendLoadError(`Dawn found no WebGPU adapter (tried ${tried})`, {
      hint: allowSoftware
        ? 'check the GPU driver (Vulkan loader: libvulkan1, and the driver\'s Vulkan ICD), or for the software path Mesa\'s EGL and GLES (libegl1, libegl-mesa0, libgles2)'
        : `check the GPU driver (Vulkan loader: libvulkan1, and the driver's Vulkan ICD); ${WEBGPU_ALLOW_SOFTWARE_ENV}=1 uses a software renderer (slow) when there is no GPU`,
    });
  }
  const info = found.adapter.info ?? (await found.adapter.requestAdapterInfo?.()) ?? {};
  const software = softwareAdapterName(info, found.adapter.isFallbackAdapter === true);
  if (software !== undefined && !allowSoftware) throw softwareRefusal(software, options.automatic);
  if (found.compatibility && !compatibilityOnly.has(found.gpu)) {
    // tfjs asks for a core adapter; where Dawn offers only a compatibility-mode one (OpenGL ES),
    // hand tfjs that one.
    compatibilityOnly.add(found.gpu);
    const request = found.gpu.requestAdapter.bind(found.gpu);
    found.gpu.requestAdapter = (requested = {}) => request({ ...requested, powerPreference: 'high-performance', featureLevel: 'compatibility' });
  }
  setNavigatorGpu(found.gpu);
  requireOptional<unknown>('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu') === null) {
    throw new BackendLoadError(
      "@tensorflow/tfjs-backend-webgpu registered no 'webgpu' backend in the runtime's tfjs engine (a second copy of tfjs-core?)",
    );
  }
  await activate();
  running = { name: software ?? (adapterName(info) || 'unknown adapter'), software: software !== undefined, dawnFlags: found.flags };
  return running;
}

/** Makes the registered webgpu backend the active one, with the runtime's kernels and read checks. */
async function activate(): Promise<void> {
  await activateBackend('webgpu');
  applyWebgpuKernels();
  failReadsOnDeviceErrors();
}

/** A software adapter where one is not allowed; on `auto` worth a line: a GPU whose Vulkan driver Dawn did not find. */
function softwareRefusal(adapter: string, automatic: boolean): BackendLoadError {
  return new BackendLoadError(`the only WebGPU adapter is a software renderer (${adapter}), slower than the CPU backends`, {
    hint: automatic
      ? "the GPU's Vulkan driver (ICD) was not found; check VK_DRIVER_FILES / VK_ICD_FILENAMES"
      : `use native or wasm, or set ${WEBGPU_ALLOW_SOFTWARE_ENV}=1 to run on it anyway`,
  });
}

interface DeviceErrorEvent {
  error?: { message?: string };
}

interface WebgpuBackendInternals {
  device: { addEventListener(type: 'uncapturederror', listener: (event: DeviceErrorEvent) => void): void };
  read(dataId: object): Promise<unknown>;
}

/** Backends whose reads already check for device errors. */
const checkedBackends = new WeakSet<object>();

/**
 * Dawn reports a validation error (a buffer larger than the adapter can bind, a pipeline over a
 * limit) as an event, and the commands it concerns leave their outputs unwritten: a read then
 * returns zeros, and a run would go on with them (GPT-2 small's 154 MB embedding on an adapter
 * that binds 128 MiB gave a loss of 0). So the first error since the last read makes the next
 * read throw, naming it. Every result leaves the device through `read` (no synchronous reads on
 * webgpu), so nothing computed after an error is taken for a result.
 */
function failReadsOnDeviceErrors(): void {
  const backend = backendInstance('webgpu') as unknown as WebgpuBackendInternals | undefined;
  if (backend === undefined || checkedBackends.has(backend)) return;
  checkedBackends.add(backend);
  let first: string | undefined;
  backend.device.addEventListener('uncapturederror', (event) => {
    first ??= event.error?.message ?? 'an unnamed device error';
  });
  const read = backend.read.bind(backend);
  backend.read = async (dataId) => {
    const values = await read(dataId);
    // Errors of the commands just waited for are delivered as events: let them arrive.
    await nextTurn();
    if (first !== undefined) {
      const message = first.split('\n', 1)[0];
      first = undefined;
      throw new RuntimeError(`WebGPU rejected a computation, so its results would be wrong: ${message}`, {
        hint: /binding size|larger than the maximum/i.test(message ?? '')
          ? 'a tensor is larger than this adapter can bind in one buffer; run on a CPU backend (--backend native) or a GPU with a larger maxStorageBufferBindingSize'
          : 'run on a CPU backend (--backend native) and report the error with the adapter in the backend line',
      });
    }
    return values;
  };
}

/** The adapter of the webgpu backend this process started (tfjs keeps the backend until removed). */
let running: GpuAdapter | undefined;

/**
 * One Dawn instance per set of flags for the life of the process: a second instance beside a live
 * device, and the garbage collection of a replaced one, crashed Node (seen when a test switched
 * between backends and back).
 */
const instances = new Map<string, Gpu>();
/** Instances whose requestAdapter already asks for compatibility mode. */
const compatibilityOnly = new WeakSet<Gpu>();

async function loadDawn(): Promise<Dawn> {
  const found = resolveOptional('webgpu');
  if (found === undefined) throw new BackendLoadError('webgpu is not installed', { missing: true });
  let dawn: Dawn;
  try {
    const mod = (await import(pathToFileURL(found.entry).href)) as Partial<Dawn> & { default?: Dawn };
    dawn = typeof mod.create === 'function' ? (mod as Dawn) : (mod.default as Dawn);
  } catch (error) {
    throw new BackendLoadError(`webgpu failed to load: ${firstLine(error)}`, { cause: error });
  }
  // tfjs-backend-webgpu uses the WebGPU globals (GPUBufferUsage, ...) as a browser defines them.
  Object.assign(globalThis, dawn.globals ?? {});
  return dawn;
}

function createGpu(dawn: Dawn, flags: string[]): Gpu {
  const key = flags.join(' ');
  const existing = instances.get(key);
  if (existing !== undefined) return existing;
  // Dawn's OpenGL backends open an EGL display; with no window system, Mesa needs a surfaceless one.
  if (flags.some((f) => f.startsWith('backend=opengl')) && process.env.EGL_PLATFORM === undefined) {
    process.env.EGL_PLATFORM = 'surfaceless';
  }
  const gpu = dawn.create(flags);
  instances.set(key, gpu);
  return gpu;
}

async function findAdapter(gpu: Gpu): Promise<{ adapter: Adapter; compatibility: boolean } | undefined> {
  const core = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (core !== null) return { adapter: core, compatibility: false };
  const compat = await gpu.requestAdapter({ powerPreference: 'high-performance', featureLevel: 'compatibility' });
  if (compat !== null) return { adapter: compat, compatibility: true };
  return undefined;
}

/** Node 20 has no `navigator`; tfjs-backend-webgpu looks for `navigator.gpu`. */
function setNavigatorGpu(gpu: Gpu): void {
  const holder = globalThis as { navigator?: object };
  if (holder.navigator === undefined) {
    holder.navigator = { gpu };
  } else {
    Object.defineProperty(holder.navigator, 'gpu', { value: gpu, configurable: true });
  }
}
