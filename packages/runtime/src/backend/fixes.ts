import { nativeKernelsApplied } from './native-kernels';

/**
 * The runtime's fixes for slow or missing tfjs paths (why each exists: docs/runtime.md §3 and §4;
 * the measurements: §10), and which backend each applies to. The ops in `src/ops` look this up at call time
 * by the active tfjs backend, so the same model code is fast on wasm and stock elsewhere.
 */
export const KERNEL_FIXES = {
  /** wasm Slice/Unpack/SplitV copy from a heap view instead of copying the whole input per output. */
  'slice-view': 'Slice, Unpack and SplitV read a view of the wasm heap',
  /** wasm's Identity copies; every tensor the tape saves for a gradient is such a clone. */
  'shared-identity': 'Identity (clones, tensors saved for gradients) shares the input by reference count',
  /** wasm's GatherV2 computes each element's source in a scalar loop. */
  'gather-rows': 'GatherV2 copies whole slices (embedding rows) from a view of the wasm heap',
  /** On `native`, tfjs-backend-cpu's Slice, GatherV2 and Tile index element by element; its Slice returns contiguous boxes as views. */
  'copy-slices': 'Slice, Unpack, SplitV, GatherV2 and Tile copy contiguous runs of the input',
  /** On `native`, tfjs-backend-cpu's binary ops compute every element's positions when shapes broadcast. */
  'broadcast-binary': 'float32 Add, Sub, Multiply and RealDiv that broadcast run as merged-axis loops',
  /** On `native`, tfjs-backend-cpu's ScatterNd indexes every element into a fresh array. */
  'scatter-rows': 'ScatterNd (the embedding gradient) adds whole rows into a recycled buffer',
  /** gather's gradient (UnsortedSegmentSum) is missing on wasm and slow on cpu. */
  'scatter-embedding-grad': "embedding lookups differentiate through scatterND, not gather's gradient",
  /** wasm sends only untransposed, unbatched matmuls to XNNPACK. */
  'transposed-matmul-grad': 'matMul gradients use explicit transposes and untransposed matmuls',
  /** The batched matmul kernel on wasm is a scalar loop; B 2-D matmuls use XNNPACK. */
  'split-batch-matmul': 'batched matmuls run as one 2-D matmul per batch entry',
  /** OpenBLAS (packages/native) computes the matmuls where the tensors live (wasm heap or process memory). */
  'native-matmul': 'BatchMatMul and _FusedMatMul run in OpenBLAS on the tensors in place',
  /** The stock wasm Sum transposes unless it reduces the innermost axes, then sums with a scalar loop. */
  'native-sum': 'Sum over leading or trailing axes runs natively without a transpose, other axes after a native one',
  /** wasm's Add leaves an XNNPACK thread spinning on the cores after each call. */
  'native-add': 'float32 Add of equal shapes or a repeated trailing block runs on the native threads',
  /** The stock wasm Transpose computes each element's source index on one thread. */
  'native-transpose': 'Transpose copies contiguous runs on the native threads',
  /** Attention's scale, mask and softmax are three tf passes forward and five back. */
  'native-softmax': "attention's masked softmax and its gradient run as one native pass each",
  /** gelu_new is about ten elementwise passes forward and fifteen backward as tf ops. */
  'native-gelu': "gelu_new and its gradient run as one native pass each",
  /** LayerNorm (and RMSNorm) are about eight elementwise passes forward and twelve backward as tf ops. */
  'native-layernorm': 'LayerNorm, RMSNorm and their gradients run as one native pass per row',
  /** logSoftmax, a one-hot product and a sum are about ten passes over [rows, vocab] each way. */
  'native-cross-entropy': 'cross-entropy of logits rows runs as two native passes per row, its gradient as one',
  /** The optimizers' elementwise passes per parameter (Adam ~20, SGD ~10) become one native pass. */
  'native-optimizers': 'Adam/AdamW and SGD steps run as one fused native kernel per parameter',
  /** WebGPU allows 8 storage buffers per shader stage; the stock AddN binds one per input. */
  'webgpu-addn': 'AddN of more inputs than a shader may bind sums them in groups (webgpu)',
  /** As native-optimizers: the Adam/AdamW step is ~20 stock webgpu dispatches per parameter, SGD's ~10. */
  'webgpu-optimizers': 'Adam/AdamW and SGD steps run as one WGSL dispatch per parameter (webgpu)',
  /** As native-layernorm: LayerNorm and RMSNorm are about eight stock dispatches forward and twelve back. */
  'webgpu-layernorm': 'LayerNorm and RMSNorm run as one WGSL dispatch, their gradients as two (webgpu)',
  /** As native-gelu: gelu_new is about ten stock dispatches forward and fifteen back. */
  'webgpu-gelu': 'gelu_new and its gradient run as one WGSL dispatch each (webgpu)',
  /** As native-softmax: attention's scale, mask and softmax are three stock dispatches forward and five back. */
  'webgpu-softmax': "attention's masked softmax and its gradient run as one WGSL dispatch each (webgpu)",
  /** As native-cross-entropy: about ten stock dispatches over [rows, vocab] each way. */
  'webgpu-cross-entropy': 'cross-entropy of logits rows and its gradient run as one WGSL dispatch each, with no other [rows, vocab] tensor (webgpu)',
  /** tfjs runs large products in 32 × 32 tiles of 64 invocations; opt-in (CT_WEBGPU_MATMUL=tiled) until a GPU has measured it. */
  'webgpu-matmul': 'BatchMatMul of products 64 or more each way runs in 64 × 64 tiles (webgpu, CT_WEBGPU_MATMUL=tiled)',
  /** tfjs turns wasm threads off in Node; the loader starts the threaded SIMD binary. */
  'threads-loader': 'the threaded SIMD wasm binary runs with several XNNPACK threads',
} as const;

export type KernelFix = keyof typeof KERNEL_FIXES;

/** The fixes the native kernels bring (registered together by applyNativeKernels). */
export const NATIVE_KERNEL_FIXES = (Object.keys(KERNEL_FIXES) as KernelFix[]).filter((fix) => fix.startsWith('native-'));

/** Fixes the ops use, by tfjs backend name. Backends not listed run the stock ops. */
const OP_FIXES: Readonly<Record<string, ReadonlySet<KernelFix>>> = {
  wasm: new Set<KernelFix>(['scatter-embedding-grad', 'transposed-matmul-grad', 'split-batch-matmul']),
  // cpu trained 3× faster with these two (28 vs 9 tokens/s); its batched matmul has no fast path
  // that splitting would reach.
  cpu: new Set<KernelFix>(['scatter-embedding-grad', 'transposed-matmul-grad']),
};

const NONE: ReadonlySet<KernelFix> = new Set();

/**
 * With the native matmul kernels, BLAS takes transposed and batched products at full speed, so the
 * two matmul workarounds would only add transposes and copies.
 */
const WITH_NATIVE_MATMUL: ReadonlySet<KernelFix> = new Set<KernelFix>(['scatter-embedding-grad']);

/** The op-level fixes for a tfjs backend name (`tf.getBackend()`). */
export function opFixesFor(tfjsBackend: string | null | undefined): ReadonlySet<KernelFix> {
  if (tfjsBackend === 'wasm' && nativeKernelsApplied('wasm')) return WITH_NATIVE_MATMUL;
  if (tfjsBackend === 'native' && nativeKernelsApplied('native')) return WITH_NATIVE_MATMUL;
  return (tfjsBackend == null ? undefined : OP_FIXES[tfjsBackend]) ?? NONE;
}
