/**
 * The optional native addon: single-precision matrix products by OpenBLAS (native/blas.c) and
 * fused kernels (Adam, SGD, LayerNorm, gelu, softmax, cross-entropy, Add, Sum, Transpose) on
 * Float32Arrays wherever they live: the runtime's `native` backend passes the typed arrays of its
 * tensors in process memory, its wasm backend views of the wasm heap, so neither copies.
 *
 * Nothing here is required: when the addon was not built or no BLAS library is installed,
 * `loadNativeAddon` says why and the runtime runs wasm with its own kernels.
 */
export {
  type AdamSettings,
  type AdamStepOperands,
  BLAS_LIBRARY_ENV,
  NATIVE_ADDON_ENV,
  nativeAddonOff,
  type GemmOperands,
  loadNativeAddon,
  type NativeAddon,
  type NativeAddonLoad,
  type SgdSettings,
  type SgdStepOperands,
} from './load';
