import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { DataId, DataType, KernelBackend, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from './tf';

/**
 * Where a kernel finds its tensors' elements and puts its outputs: the runtime's own kernels
 * (native-kernels.ts, array-kernels.ts) are written once against this, and each backend they run
 * on supplies one reader: the wasm backend's heap, or the ordinary typed arrays of a
 * tfjs-backend-cpu instance (the `native` backend, native-backend.ts). The addon reads any
 * Float32Array the same way, so both reach one C implementation of each kernel.
 */
export interface KernelMemory {
  /** The tfjs backend name the kernels are registered under (for the stock kernels they call). */
  readonly backendName: string;
  /**
   * A tensor's elements, where they live (no copy). On wasm a view of the heap: take views after a
   * kernel's last `make`, since allocating may grow the heap, which replaces its buffer.
   */
  view(t: TensorInfo): NumericArray;
  /** A new tensor (uninitialised on wasm; zeros in process memory). */
  make(shape: number[], dtype: DataType): TensorInfo;
  /** A kernel output that is `x`'s memory, counted once more (as Reshape's), under `shape`. */
  share(x: TensorInfo, shape?: number[]): TensorInfo;
  /** How many tensors hold this memory. */
  refCount(dataId: DataId): number;
  /** Releases one hold on an intermediate output. */
  dispose(dataId: DataId): void;
}

export type NumericArray = Float32Array | Int32Array | Uint8Array;

/** The tfjs-backend-cpu storage the `native` backend keeps its tensors in. */
interface CpuStorage extends KernelBackend {
  data: { get(dataId: DataId): { values: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: DataType, values?: unknown): TensorInfo;
  incRef(dataId: DataId): void;
  refCount(dataId: DataId): number;
}

const memories = new WeakMap<object, KernelMemory>();

/** The reader for a backend instance the runtime's kernels run on (see `registerCpuMemory`). */
export function memoryOf(backend: object): KernelMemory {
  const known = memories.get(backend);
  if (known !== undefined) return known;
  if (typeof (backend as Partial<BackendWasm>).typedArrayFromHeap !== 'function') {
    throw new Error("the runtime's kernels run on the wasm and native backends only");
  }
  const memory = wasmMemory(backend as unknown as BackendWasm);
  memories.set(backend, memory);
  return memory;
}

/** Makes the kernels registered under `backendName` read `backend`'s typed arrays. */
export function registerCpuMemory(backend: object, backendName: string): void {
  memories.set(backend, cpuMemory(backend as unknown as CpuStorage, backendName));
}

function wasmMemory(backend: BackendWasm): KernelMemory {
  return {
    backendName: 'wasm',
    view: (t) => backend.typedArrayFromHeap(t) as NumericArray,
    make: (shape, dtype) => backend.makeOutput(shape, dtype),
    share: (x, shape = x.shape) => {
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape, dtype: x.dtype };
    },
    refCount: (dataId) => backend.refCount(dataId),
    dispose: (dataId) => {
      backend.disposeData(dataId);
    },
  };
}

function cpuMemory(backend: CpuStorage, backendName: string): KernelMemory {
  return {
    backendName,
    view: (t) => {
      const values = backend.data.get(t.dataId)?.values;
      if (!(values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array)) {
        throw new Error(`tensor [${t.shape}] ${t.dtype} has no numeric data on the ${backendName} backend`);
      }
      return values;
    },
    make: (shape, dtype) => {
      const size = tf.util.sizeFromShape(shape);
      const values = dtype === 'int32' ? new Int32Array(size) : dtype === 'bool' ? new Uint8Array(size) : new Float32Array(size);
      return backend.makeTensorInfo(shape, dtype, values);
    },
    share: (x, shape = x.shape) => {
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape, dtype: x.dtype };
    },
    refCount: (dataId) => backend.refCount(dataId),
    dispose: (dataId) => {
      backend.disposeData(dataId);
    },
  };
}
