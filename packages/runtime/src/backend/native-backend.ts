import { createRequire } from 'node:module';
import type * as TfCpu from '@tensorflow/tfjs-backend-cpu';
import type { DataId, DataType, TensorInfo } from '@tensorflow/tfjs-core';
import { applyBroadcastKernels } from './broadcast-kernels';
import { type NumericArray, registerMemory } from './kernel-memory';
import { tf } from './tf';
import { applyArrayKernelFixes } from './wasm-kernels';

/**
 * The `native` backend: tensors in ordinary process memory (tfjs-backend-cpu's typed arrays, so
 * past the wasm heap's 4 GB), computed by the native addon's kernels where the runtime has them
 * (native-kernels.ts: OpenBLAS products, fused LayerNorm, gelu, softmax, cross-entropy, Adam, Add,
 * Transpose, Sum) and by tfjs-backend-cpu's kernels everywhere else, with the runtime's array
 * kernels (Slice, Unpack, SplitV, GatherV2 as contiguous copies, wasm-kernels.ts) in place of the
 * cpu ones that index element by element.
 *
 * It is a tfjs backend of its own name, so that `cpu` stays the stock backend: its kernels are
 * copies of the cpu backend's configs registered under `native`, which the runtime's kernels then
 * take over. Registered at priority 0 (below cpu): tfjs never picks it on its own.
 *
 * The outputs of the runtime's kernels come from a pool of recycled buffers (see `BufferPool`):
 * a fresh typed array per output made a GPT-2-sized training step spend much of its time zeroing
 * new memory and collecting garbage, where the wasm heap reuses what was freed.
 */

export const NATIVE_BACKEND = 'native';

/** Bytes of freed buffers the pool keeps for reuse; beyond it they go to the garbage collector. */
export const NATIVE_POOL_BYTES = 2 * 1024 ** 3;

type CpuPackage = typeof TfCpu;
type CpuBackend = InstanceType<CpuPackage['MathBackendCPU']>;
type Stored = { values?: unknown };

let registered = false;

/** Registers the `native` backend's factory and its kernels (idempotent). */
export function registerNativeBackend(): void {
  if (registered) return;
  const { MathBackendCPU } = createRequire(import.meta.url)('@tensorflow/tfjs-backend-cpu') as CpuPackage;
  if (tf.findBackendFactory(NATIVE_BACKEND) === null) tf.registerBackend(NATIVE_BACKEND, () => createBackend(MathBackendCPU), 0);
  for (const config of tf.getKernelsForBackend('cpu')) {
    if (tf.getKernel(config.kernelName, NATIVE_BACKEND) === undefined) tf.registerKernel({ ...config, backendName: NATIVE_BACKEND });
  }
  applyArrayKernelFixes(NATIVE_BACKEND);
  applyBroadcastKernels();
  registered = true;
}

/**
 * Freed output buffers kept by byte length. A buffer is recycled only when nothing else can see
 * it: it was made by `take` for a kernel output, it backed exactly one tensor for its whole life
 * (a kernel that returned a view of it, or the same array under a second tensor, takes it out of
 * the pool's care), and it was never read out (`dataSync` hands the array itself to the caller).
 * Everything else is left to the garbage collector, as tfjs-backend-cpu does.
 */
class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private freeBytes = 0;
  /** Buffers the pool may recycle (made by `take`, never aliased or read out). */
  private readonly recyclable = new WeakSet<ArrayBuffer>();
  /** Recyclable buffers that back a tensor now. */
  private readonly held = new WeakSet<ArrayBuffer>();

  constructor(private readonly limit: number) {}

  /** A buffer of at least `bytes` (its size class: shapes that differ a little share buffers). */
  take(bytes: number): ArrayBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    const reused = list?.pop();
    if (list?.length === 0) this.free.delete(size);
    if (reused !== undefined) this.freeBytes -= size;
    const buffer = reused ?? new ArrayBuffer(size);
    this.recyclable.add(buffer);
    return buffer;
  }

  /**
   * A tensor's data is stored: the first store of a recyclable buffer (from its start, as `take`'s
   * caller makes it) holds it; any other use of it is an alias.
   */
  stored(values: unknown): void {
    const buffer = bufferOf(values);
    if (buffer === undefined || !this.recyclable.has(buffer)) return;
    const fromStart = ArrayBuffer.isView(values) && values.byteOffset === 0;
    if (fromStart && !this.held.has(buffer)) this.held.add(buffer);
    else this.recyclable.delete(buffer);
  }

  /** A tensor's data was read out or exposed: never recycle its buffer. */
  exposed(values: unknown): void {
    const buffer = bufferOf(values);
    if (buffer !== undefined) this.recyclable.delete(buffer);
  }

  /** A tensor's data was released. */
  released(values: unknown): void {
    const buffer = bufferOf(values);
    if (buffer === undefined || !this.recyclable.has(buffer) || !this.held.has(buffer)) return;
    this.held.delete(buffer);
    if (this.freeBytes + buffer.byteLength > this.limit) {
      this.recyclable.delete(buffer);
      return;
    }
    const list = this.free.get(buffer.byteLength);
    if (list === undefined) this.free.set(buffer.byteLength, [buffer]);
    else list.push(buffer);
    this.freeBytes += buffer.byteLength;
  }

  clear(): void {
    this.free.clear();
    this.freeBytes = 0;
  }
}

/** Below this, buffers are pooled by their exact size. */
const EXACT_BELOW = 64 * 1024;

/** `bytes` rounded up to a quarter step of its power of two (at most 25 % more). */
function sizeClass(bytes: number): number {
  if (bytes < EXACT_BELOW) return bytes;
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 2);
  return Math.ceil(bytes / step) * step;
}

function bufferOf(values: unknown): ArrayBuffer | undefined {
  return ArrayBuffer.isView(values) && values.buffer instanceof ArrayBuffer ? values.buffer : undefined;
}

function createBackend(MathBackendCPU: CpuPackage['MathBackendCPU']): CpuBackend {
  const pool = new BufferPool(NATIVE_POOL_BYTES);
  // `has` first: DataStorage.get of an id it lacks asks the engine to move the data here.
  const stored = (backend: CpuBackend, dataId: DataId): Stored | undefined => {
    const { data } = backend as unknown as { data: { has(id: DataId): boolean; get(id: DataId): Stored } };
    return data.has(dataId) ? data.get(dataId) : undefined;
  };

  class NativeBackend extends MathBackendCPU {
    override write(values: Parameters<CpuBackend['write']>[0], shape: number[], dtype: DataType): DataId {
      pool.stored(values);
      return super.write(values, shape, dtype);
    }

    override move(dataId: DataId, values: Parameters<CpuBackend['move']>[1], shape: number[], dtype: DataType, refCount: number): void {
      pool.stored(values);
      super.move(dataId, values, shape, dtype, refCount);
    }

    override readSync(dataId: DataId): ReturnType<CpuBackend['readSync']> {
      pool.exposed(stored(this, dataId)?.values);
      return super.readSync(dataId);
    }

    override disposeData(dataId: DataId, force = false): boolean {
      const values = stored(this, dataId)?.values;
      const released = super.disposeData(dataId, force) && values !== undefined && stored(this, dataId) === undefined;
      if (released) pool.released(values);
      return released;
    }

    override dispose(): void {
      pool.clear();
      super.dispose();
    }
  }

  const backend = new NativeBackend();
  // The backend line says what runs; the banner advising tfjs-node would only mislead.
  (backend as unknown as { firstUse: boolean }).firstUse = false;
  registerMemory(backend, {
    backendName: NATIVE_BACKEND,
    view: (t) => {
      // `get`, not `stored`: a tensor made on another backend is moved here first.
      const values = (backend as unknown as { data: { get(id: DataId): Stored | undefined } }).data.get(t.dataId)?.values;
      if (!(values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array)) {
        throw new Error(`tensor [${t.shape}] ${t.dtype} has no numeric data on the ${NATIVE_BACKEND} backend`);
      }
      return values;
    },
    make: (shape, dtype) => backend.makeTensorInfo(shape, dtype, uninitialised(pool, tf.util.sizeFromShape(shape), dtype)),
    share: (x: TensorInfo, shape = x.shape) => {
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape, dtype: x.dtype };
    },
    refCount: (dataId) => backend.refCount(dataId),
    dispose: (dataId) => {
      backend.disposeData(dataId);
    },
  });
  return backend;
}

/** An output array from the pool: its contents are whatever the last tensor left (kernels write every element). */
function uninitialised(pool: BufferPool, size: number, dtype: DataType): NumericArray {
  if (dtype === 'int32') return new Int32Array(pool.take(size * 4), 0, size);
  if (dtype === 'bool') return new Uint8Array(pool.take(size), 0, size);
  if (dtype === 'float32') return new Float32Array(pool.take(size * 4), 0, size);
  throw new Error(`the ${NATIVE_BACKEND} backend's kernels make no ${dtype} outputs`);
}
