import { pathToFileURL } from 'node:url';
import { activateBackend } from './activate';
import { BackendLoadError, firstLine, requireOptional, resolveOptional } from './optional-package';
import { tf } from './tf';
import { applyWebgpuKernels } from './webgpu-kernels';

/**
 * The WebGPU backend under Node: the `webgpu` package (Dawn for Node) provides `navigator.gpu`,
 * and @tensorflow/tfjs-backend-webgpu registers 'webgpu' on it. Neither is a dependency.
 *
 * A software adapter (Mesa llvmpipe/lavapipe, SwiftShader) runs tfjs about 8× slower than wasm,
 * so it is refused unless CT_WEBGPU_ALLOW_SOFTWARE=1. Dawn flags (e.g. `backend=opengl`) can be
 * passed in CT_WEBGPU_DAWN_FLAGS, separated by spaces.
 */

export const WEBGPU_ALLOW_SOFTWARE_ENV = 'CT_WEBGPU_ALLOW_SOFTWARE';
export const WEBGPU_DAWN_FLAGS_ENV = 'CT_WEBGPU_DAWN_FLAGS';

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
  const text = [info.description, info.device, info.architecture, info.vendor]
    .filter((s): s is string => typeof s === 'string' && s !== '')
    .join(' ');
  if (SOFTWARE.test(text)) return text;
  return isFallbackAdapter ? text || 'a fallback adapter' : undefined;
}

export async function startWebgpu(): Promise<{ adapter: string }> {
  const gpu = await createGpu();
  const { adapter, compatibility } = await findAdapter(gpu);
  const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
  const software = softwareAdapterName(info, adapter.isFallbackAdapter === true);
  if (software !== undefined && process.env[WEBGPU_ALLOW_SOFTWARE_ENV] !== '1') {
    throw new BackendLoadError(`the only WebGPU adapter is a software renderer (${software}), slower than wasm`, {
      hint: `use wasm, or set ${WEBGPU_ALLOW_SOFTWARE_ENV}=1 to run on it anyway`,
    });
  }
  if (compatibility) {
    // tfjs asks for a core adapter; where Dawn offers only a compatibility-mode one (OpenGL ES),
    // hand tfjs that one.
    const request = gpu.requestAdapter.bind(gpu);
    gpu.requestAdapter = (options = {}) => request({ ...options, featureLevel: 'compatibility' });
  }
  setNavigatorGpu(gpu);
  requireOptional<unknown>('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu') === null) {
    throw new BackendLoadError(
      "@tensorflow/tfjs-backend-webgpu registered no 'webgpu' backend in the runtime's tfjs engine (a second copy of tfjs-core?)",
    );
  }
  await activateBackend('webgpu');
  applyWebgpuKernels();
  return { adapter: software ?? ([info.vendor, info.description].filter(Boolean).join(' ') || 'unknown adapter') };
}

async function createGpu(): Promise<Gpu> {
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
  const flags = (process.env[WEBGPU_DAWN_FLAGS_ENV] ?? '').split(/\s+/).filter((f) => f !== '');
  // Dawn's OpenGL backend opens an EGL display; with no window system, Mesa needs a surfaceless one.
  if (flags.some((f) => f.startsWith('backend=opengl')) && process.env.EGL_PLATFORM === undefined) {
    process.env.EGL_PLATFORM = 'surfaceless';
  }
  return dawn.create(flags);
}

async function findAdapter(gpu: Gpu): Promise<{ adapter: Adapter; compatibility: boolean }> {
  const core = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (core !== null) return { adapter: core, compatibility: false };
  const compat = await gpu.requestAdapter({ powerPreference: 'high-performance', featureLevel: 'compatibility' });
  if (compat !== null) return { adapter: compat, compatibility: true };
  throw new BackendLoadError('Dawn found no WebGPU adapter', {
    hint: `check the GPU driver (Vulkan loader: libvulkan1), or pass Dawn flags in ${WEBGPU_DAWN_FLAGS_ENV}, e.g. backend=opengl`,
  });
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
