// The tensor backend: the one tfjs engine, its choice, and the wasm kernel fixes.
export { tf } from './tf';
export {
  AUTO_ORDER,
  BACKEND_NAMES,
  type BackendName,
  type BackendRequest,
  INSTALL_HINTS,
  isBackendName,
} from './names';
export { BACKEND_ENV, DEFAULT_WASM_THREADS, THREADS_ENV } from './request';
export { type BackendInfo, formatBackendLine } from './info';
export { KERNEL_FIXES, type KernelFix, opFixesFor } from './fixes';
export { backendInfo, ensureBackend, type InitBackendOptions, initBackend, shutdownBackend } from './select';
export { applyWasmKernelFixes, removeWasmKernelFixes, wasmKernelFixesApplied } from './wasm-kernels';
export { WEBGPU_ALLOW_SOFTWARE_ENV, WEBGPU_DAWN_FLAGS_ENV } from './webgpu';
export { applyWebgpuKernels } from './webgpu-kernels';
export { applyNativeKernels, type NativeKernelsInfo, nativeKernelsApplied, removeNativeKernels } from './native-kernels';
