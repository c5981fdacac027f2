import type {
  GatherV2Attrs,
  KernelFunc,
  NamedTensorInfoMap,
  ScatterNdAttrs,
  SliceAttrs,
  SplitVAttrs,
  TensorInfo,
  TileAttrs,
  UnpackAttrs,
} from '@tensorflow/tfjs-core';
import { type KernelMemory, memoryOf, type NumericArray } from './kernel-memory';
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

type KernelParams = Parameters<KernelFunc>[0];

/** Registers the fixed kernels for 'wasm' (idempotent). Loads tfjs-backend-wasm if needed. */
export function applyWasmKernelFixes(): void {
  wasmPackage(); // the stock kernels are registered when the package loads
  fixes.wasm.apply();
}

/** Puts the stock kernels back (for comparisons and benchmarks of the fix). */
export function removeWasmKernelFixes(): void {
  fixes.wasm.remove();
}

export function wasmKernelFixesApplied(): boolean {
  return fixes.wasm.applied;
}

/**
 * The same kernels for the `native` backend (tfjs-backend-cpu's kernels on process memory), whose
 * stock Slice copies a strided box element by element through index arithmetic and returns
 * contiguous boxes as views of the input (which an in-place Adam step would then write through),
 * and whose GatherV2 and Tile do the same index arithmetic per element (Tile: 93 of 372 s of a
 * Llama-3.2-1B EAP pass, repeating each layer's k/v weights for its query heads). Its Identity
 * already shares.
 * ScatterND (the embedding gradient, scatter-embedding-grad) adds whole rows into a pooled output:
 * the cpu kernel indexes every element and fills a fresh [vocab, d] array each step (GPT-2
 * small: 154 MB, about 140 ms a step).
 */
export function applyArrayKernelFixes(backendName: 'native'): void {
  fixes[backendName].apply();
}

function slice(params: KernelParams): TensorInfo | TensorInfo[] {
  const x = input(params.inputs, 'x');
  if (x.dtype === 'string') return stock(params).runStock('Slice', params);
  const { begin, size } = params.attrs as unknown as SliceAttrs;
  const [begin_, size_] = tf.slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
  return sliceFromHeap(memoryOf(params.backend), x, begin_, size_);
}

function unpack(params: KernelParams): TensorInfo | TensorInfo[] {
  const value = input(params.inputs, 'value');
  if (value.dtype === 'string') return stock(params).runStock('Unpack', params);
  const { axis: rawAxis } = params.attrs as unknown as UnpackAttrs;
  const axis = rawAxis < 0 ? rawAxis + value.shape.length : rawAxis;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const count = value.shape[axis] ?? 0;
  const size = value.shape.slice();
  size[axis] = 1;
  const outs: TensorInfo[] = [];
  for (let i = 0; i < count; i++) {
    const begin = value.shape.map((_, d) => (d === axis ? i : 0));
    const { dataId, dtype } = sliceFromHeap(memoryOf(params.backend), value, begin, size);
    outs.push({ dataId, dtype, shape: outShape });
  }
  return outs;
}

function splitV(params: KernelParams): TensorInfo | TensorInfo[] {
  const x = input(params.inputs, 'x');
  if (x.dtype === 'string') return stock(params).runStock('SplitV', params);
  const { numOrSizeSplits, axis } = params.attrs as unknown as SplitVAttrs;
  const $axis = tf.util.parseAxisParam(axis, x.shape)[0] ?? 0;
  const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, $axis);
  const begin = x.shape.map(() => 0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[$axis] = s;
    const out = sliceFromHeap(memoryOf(params.backend), x, begin.slice(), size);
    begin[$axis] = (begin[$axis] ?? 0) + s;
    return out;
  });
}

type Fixed = 'Slice' | 'Unpack' | 'SplitV' | 'Identity' | 'GatherV2' | 'ScatterNd' | 'Tile';

/** The stock kernels are kept: strings still go through them. */
const fixes: Readonly<Record<'wasm' | 'native', KernelTakeover<Fixed>>> = {
  wasm: new KernelTakeover<Exclude<Fixed, 'ScatterNd' | 'Tile'>>('wasm', { Slice: slice, Unpack: unpack, SplitV: splitV, Identity: identity, GatherV2: gatherV2 }) as KernelTakeover<Fixed>,
  native: new KernelTakeover<Exclude<Fixed, 'Identity'>>('native', {
    Slice: slice,
    Unpack: unpack,
    SplitV: splitV,
    GatherV2: gatherV2,
    ScatterNd: scatterNd,
    Tile: tile,
  }) as KernelTakeover<Fixed>,
};

/** The takeover of the backend a kernel call runs on. */
function stock(params: KernelParams): KernelTakeover<Fixed> {
  return fixes[memoryOf(params.backend).backendName as 'wasm' | 'native'];
}

function identity(params: KernelParams): TensorInfo | TensorInfo[] {
  const x = input(params.inputs, 'x');
  if (x.dtype === 'string') return stock(params).runStock('Identity', params);
  return memoryOf(params.backend).share(x);
}

/** tf.gather without batch dims: out = x.shape[:axis] + indices.shape + x.shape[axis+1:]. */
function gatherV2(params: KernelParams): TensorInfo | TensorInfo[] {
  const x = input(params.inputs, 'x');
  const indices = input(params.inputs, 'indices');
  const { axis, batchDims } = params.attrs as unknown as GatherV2Attrs;
  if (x.dtype === 'string' || (batchDims ?? 0) !== 0) return stock(params).runStock('GatherV2', params);
  const mem = memoryOf(params.backend);
  const along = tf.util.parseAxisParam(axis, x.shape)[0] ?? 0;
  const dim = x.shape[along] ?? 0;
  const ids = mem.view(indices);
  for (const id of ids) {
    if (!(id >= 0 && id <= dim - 1)) throw new Error(`GatherV2: the index value ${id} is not in [0, ${dim - 1}]`);
  }
  const outer = tf.util.sizeFromShape(x.shape.slice(0, along));
  const inner = tf.util.sizeFromShape(x.shape.slice(along + 1));
  const out = mem.make([...x.shape.slice(0, along), ...indices.shape, ...x.shape.slice(along + 1)], x.dtype);
  if (tf.util.sizeFromShape(out.shape) === 0) return out;
  // Views after makeOutput: allocating may grow the heap, which replaces its buffer.
  const from = mem.view(x);
  const to = mem.view(out);
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

/** tf.tile: every repetition of a block is one contiguous copy (tileInto). */
function tile(params: KernelParams): TensorInfo | TensorInfo[] {
  const x = input(params.inputs, 'x');
  if (x.dtype === 'string') return stock(params).runStock('Tile', params);
  const { reps } = params.attrs as unknown as TileAttrs;
  const mem = memoryOf(params.backend);
  const out = mem.make(
    x.shape.map((n, i) => n * (reps[i] ?? 1)),
    x.dtype,
  );
  if (tf.util.sizeFromShape(out.shape) === 0) return out;
  tileInto(mem.view(x), x.shape, reps, mem.view(out));
  return out;
}

/**
 * Writes `src` of `shape` tiled `reps` times along each axis into `dst` (row-major). Axes after the
 * last repeated one are contiguous in both arrays, so for each position along the axes before it
 * the source block along it is copied `reps` times, one `set` each.
 */
export function tileInto(src: NumericArray, shape: readonly number[], reps: readonly number[], dst: NumericArray): void {
  let k = shape.length - 1;
  while (k >= 0 && (reps[k] ?? 1) === 1) k--;
  if (k < 0) {
    dst.set(src.subarray(0, dst.length));
    return;
  }
  const run = tf.util.sizeFromShape(shape.slice(k)); // the source block along axis k and after
  const strides = shape.slice(0, k).map((_, d) => tf.util.sizeFromShape(shape.slice(d + 1)));
  const outShape = shape.slice(0, k).map((n, d) => n * (reps[d] ?? 1));
  const index = new Array<number>(k).fill(0); // output position along axes 0..k-1
  const outer = tf.util.sizeFromShape(outShape);
  for (let o = 0, at = 0; o < outer; o++) {
    let from = 0;
    for (let d = 0; d < k; d++) from += ((index[d] ?? 0) % (shape[d] ?? 1)) * (strides[d] ?? 0);
    const block = src.subarray(from, from + run);
    for (let r = 0; r < (reps[k] ?? 1); r++, at += run) dst.set(block, at);
    for (let d = k - 1; d >= 0; d--) {
      const next = (index[d] ?? 0) + 1;
      if (next < (outShape[d] ?? 1)) {
        index[d] = next;
        break;
      }
      index[d] = 0;
    }
  }
}

/**
 * tf.scatterND of float32 or int32 updates: zeros of `shape` plus each update slice added at its
 * index (repeated indices sum, as the stock kernel does), one contiguous slice at a time.
 */
function scatterNd(params: KernelParams): TensorInfo | TensorInfo[] {
  const indices = input(params.inputs, 'indices');
  const updates = input(params.inputs, 'updates');
  if ((updates.dtype !== 'float32' && updates.dtype !== 'int32') || indices.dtype !== 'int32') return stock(params).runStock('ScatterNd', params);
  const { shape } = params.attrs as unknown as ScatterNdAttrs;
  const { sliceRank, numUpdates, sliceSize, strides, outputSize } = tf.scatter_util.calculateShapes(updates, indices, shape);
  const mem = memoryOf(params.backend);
  const out = mem.make(shape, updates.dtype);
  if (outputSize === 0) return out;
  const to = mem.view(out);
  const from = mem.view(updates);
  const at = mem.view(indices);
  to.fill(0);
  const slices = outputSize / sliceSize;
  for (let i = 0; i < numUpdates; i++) {
    let slot = 0;
    for (let j = 0; j < sliceRank; j++) slot += (at[i * sliceRank + j] ?? 0) * (strides[j] ?? 0);
    if (!(slot >= 0 && slot < slices)) {
      throw new Error(`Invalid indices: [${Array.from(at.subarray(i * sliceRank, (i + 1) * sliceRank))}] does not index into [${shape}]`);
    }
    const target = slot * sliceSize;
    if (updates.shape.length === 0) {
      for (let k = 0; k < sliceSize; k++) to[target + k] = (to[target + k] ?? 0) + (from[0] ?? 0);
    } else {
      for (let k = 0, source = i * sliceSize; k < sliceSize; k++) to[target + k] = (to[target + k] ?? 0) + (from[source + k] ?? 0);
    }
  }
  return out;
}

function input(inputs: NamedTensorInfoMap, name: string): TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`kernel input '${name}' is missing`);
  return t;
}

function sliceFromHeap(mem: KernelMemory, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = mem.make(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  // Views are taken after make: allocating may grow the heap, which replaces its buffer.
  copyBox(mem.view(x), x.shape, begin, size, mem.view(out));
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
  src: NumericArray,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  dst: NumericArray,
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
