import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type {
  GatherV2Attrs,
  KernelFunc,
  NamedTensorInfoMap,
  SliceAttrs,
  SplitVAttrs,
  TensorInfo,
  UnpackAttrs,
} from '@tensorflow/tfjs-core';
import { KernelTakeover } from './kernel-takeover';
import { tf } from './tf';
import { wasmPackage } from './wasm-package';

/**
 * The `slice-view` fix: Slice, Unpack and SplitV for the wasm backend that copy from a view of
 * the wasm heap; and the `shared-identity` fix: Identity (tf.clone, and every tensor the tape saves
 * for a gradient) shares its input's heap memory by reference count, as Reshape already does and
 * as the cpu backend's Identity does, instead of copying it. No wasm kernel writes to its inputs,
 * so the shared memory is never changed under either tensor. And the `gather-rows` fix: GatherV2
 * copies whole slices (an embedding row each) from a heap view; the stock kernel computes every
 * element's source index in a scalar loop (10 ms for the embedding lookup of 1,024 tokens × 256).
 *
 * The stock Slice kernel starts with `backend.readSync(x)`, which copies the WHOLE input out of
 * the heap, for every output; Unpack (tf.unstack) and SplitV (tf.split) call it once per output,
 * so an N-way unstack costs O(N × input size). Attention split into 2-D matmuls unstacks every
 * step, which made this the largest cost of training on wasm. These kernels copy only the
 * selected elements, in contiguous runs, straight from the heap.
 */

type TypedArray = ReturnType<BackendWasm['typedArrayFromHeap']>;
type KernelParams = Parameters<KernelFunc>[0];

/** Registers the fixed kernels for 'wasm' (idempotent). Loads tfjs-backend-wasm if needed. */
export function applyWasmKernelFixes(): void {
  wasmPackage(); // the stock kernels are registered when the package loads
  fixes.apply();
}

/** Puts the stock kernels back (for comparisons and benchmarks of the fix). */
export function removeWasmKernelFixes(): void {
  fixes.remove();
}

export function wasmKernelFixesApplied(): boolean {
  return fixes.applied;
}

function slice(params: KernelParams): TensorInfo | TensorInfo[] {
  const x = input(params.inputs, 'x');
  if (x.dtype === 'string') return fixes.runStock('Slice', params);
  const { begin, size } = params.attrs as unknown as SliceAttrs;
  const [begin_, size_] = tf.slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
  return sliceFromHeap(params.backend as BackendWasm, x, begin_, size_);
}

function unpack(params: KernelParams): TensorInfo | TensorInfo[] {
  const value = input(params.inputs, 'value');
  if (value.dtype === 'string') return fixes.runStock('Unpack', params);
  const { axis: rawAxis } = params.attrs as unknown as UnpackAttrs;
  const axis = rawAxis < 0 ? rawAxis + value.shape.length : rawAxis;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const count = value.shape[axis] ?? 0;
  const size = value.shape.slice();
  size[axis] = 1;
  const outs: TensorInfo[] = [];
  for (let i = 0; i < count; i++) {
    const begin = value.shape.map((_, d) => (d === axis ? i : 0));
    const { dataId, dtype } = sliceFromHeap(params.backend as BackendWasm, value, begin, size);
    outs.push({ dataId, dtype, shape: outShape });
  }
  return outs;
}

function splitV(params: KernelParams): TensorInfo | TensorInfo[] {
  const x = input(params.inputs, 'x');
  if (x.dtype === 'string') return fixes.runStock('SplitV', params);
  const { numOrSizeSplits, axis } = params.attrs as unknown as SplitVAttrs;
  const $axis = tf.util.parseAxisParam(axis, x.shape)[0] ?? 0;
  const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, $axis);
  const begin = x.shape.map(() => 0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[$axis] = s;
    const out = sliceFromHeap(params.backend as BackendWasm, x, begin.slice(), size);
    begin[$axis] = (begin[$axis] ?? 0) + s;
    return out;
  });
}

/** The stock kernels are kept: strings still go through them. */
const fixes = new KernelTakeover<'Slice' | 'Unpack' | 'SplitV' | 'Identity' | 'GatherV2'>('wasm', {
  Slice: slice,
  Unpack: unpack,
  SplitV: splitV,
  Identity: identity,
  GatherV2: gatherV2,
});

function identity(params: KernelParams): TensorInfo | TensorInfo[] {
  const x = input(params.inputs, 'x');
  if (x.dtype === 'string') return fixes.runStock('Identity', params);
  return sharedOutput(params.backend as BackendWasm, x);
}

/** A kernel output that is `x`'s memory, counted once more (as Reshape's), under `shape`. */
export function sharedOutput(backend: BackendWasm, x: TensorInfo, shape: number[] = x.shape): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape, dtype: x.dtype };
}

/** tf.gather without batch dims: out = x.shape[:axis] + indices.shape + x.shape[axis+1:]. */
function gatherV2(params: KernelParams): TensorInfo | TensorInfo[] {
  const x = input(params.inputs, 'x');
  const indices = input(params.inputs, 'indices');
  const { axis, batchDims } = params.attrs as unknown as GatherV2Attrs;
  if (x.dtype === 'string' || (batchDims ?? 0) !== 0) return fixes.runStock('GatherV2', params);
  const backend = params.backend as BackendWasm;
  const along = tf.util.parseAxisParam(axis, x.shape)[0] ?? 0;
  const dim = x.shape[along] ?? 0;
  const ids = backend.typedArrayFromHeap(indices);
  for (const id of ids) {
    if (!(id >= 0 && id <= dim - 1)) throw new Error(`GatherV2: the index value ${id} is not in [0, ${dim - 1}]`);
  }
  const outer = tf.util.sizeFromShape(x.shape.slice(0, along));
  const inner = tf.util.sizeFromShape(x.shape.slice(along + 1));
  const out = backend.makeOutput([...x.shape.slice(0, along), ...indices.shape, ...x.shape.slice(along + 1)], x.dtype);
  if (tf.util.sizeFromShape(out.shape) === 0) return out;
  // Views after makeOutput: allocating may grow the heap, which replaces its buffer.
  const from = backend.typedArrayFromHeap(x);
  const to = backend.typedArrayFromHeap(out);
  const count = ids.length;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < count; i++) {
      const source = (o * dim + (ids[i] ?? 0)) * inner;
      const target = (o * count + i) * inner;
      if (inner === 1) to[target] = from[source] ?? 0;
      else to.set(from.subarray(source, source + inner), target);
    }
  }
  return out;
}

function input(inputs: NamedTensorInfoMap, name: string): TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`kernel input '${name}' is missing`);
  return t;
}

function sliceFromHeap(backend: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  // Views are taken after makeOutput: allocating may grow the heap, which replaces its buffer.
  copyBox(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

/** Below this run length a plain loop beats creating a subarray per run. */
const MIN_SUBARRAY_RUN = 16;

/**
 * Copies the box `begin`..`begin + size` of the row-major array `src` of `shape` into `dst`.
 * Axes after the innermost partly-taken axis are taken whole, so each run along it is contiguous
 * in both arrays: the copy is one `set` per run.
 */
export function copyBox(
  src: TypedArray,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  dst: TypedArray,
): void {
  const rank = shape.length;
  const strides = new Array<number>(rank);
  let stride = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d] ?? 1;
  }
  let k = rank - 1;
  while (k >= 0 && size[k] === shape[k]) k--;
  if (k < 0) {
    dst.set(src.subarray(0, dst.length));
    return;
  }
  const run = (size[k] ?? 0) * (strides[k] ?? 1);
  const runs = dst.length / run;
  const index = new Array<number>(k).fill(0); // position among the outer axes 0..k-1
  for (let r = 0, at = 0; r < runs; r++, at += run) {
    let from = (begin[k] ?? 0) * (strides[k] ?? 1);
    for (let d = 0; d < k; d++) from += ((begin[d] ?? 0) + (index[d] ?? 0)) * (strides[d] ?? 1);
    if (run >= MIN_SUBARRAY_RUN) {
      dst.set(src.subarray(from, from + run), at);
    } else {
      for (let j = 0; j < run; j++) dst[at + j] = src[from + j] ?? 0;
    }
    for (let d = k - 1; d >= 0; d--) {
      const next = (index[d] ?? 0) + 1;
      if (next < (size[d] ?? 1)) {
        index[d] = next;
        break;
      }
      index[d] = 0;
    }
  }
}
