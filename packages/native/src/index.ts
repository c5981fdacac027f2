/**
 * The optional native addon: single-precision matrix products by OpenBLAS (native/blas.c) and a
 * fused Adam step (native/adam.c) on Float32Arrays, including views of the wasm backend's heap, so
 * the runtime's kernels compute without copying.
 *
 * Nothing here is required: when the addon was not built or no BLAS library is installed,
 * `loadNativeBlas` says why and the runtime keeps its wasm kernels.
 */
export {
  type AdamStepOperands,
  BLAS_LIBRARY_ENV,
  NATIVE_BLAS_ENV,
  type GemmOperands,
  loadNativeBlas,
  type NativeBlas,
  type NativeBlasLoad,
} from './load';
