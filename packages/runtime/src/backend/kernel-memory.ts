import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { DataId, DataType, TensorInfo } from '@tensorflow/tfjs-core';

/**
 * Where a kernel finds its tensors' elements and puts its outputs: the runtime's own kernels
 * (native-kernels.ts, wasm-kernels.ts) are written once against this, and each backend they run
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
  /** A new tensor, uninitialised: the kernel writes every element. */
  make(shape: number[], dtype: DataType): TensorInfo;
  /** A kernel output that is `x`'s memory, counted once more (as Reshape's), under `shape`. */
  share(x: TensorInfo, shape?: number[]): TensorInfo;
  /** How many tensors hold this memory. */
  refCount(dataId: DataId): number;
  /** Releases one hold on an intermediate output. */
  dispose(dataId: DataId): void;
}

export type NumericArray = Float32Array | Int32Array | Uint8Array;

const memories = new WeakMap<object, KernelMemory>();

/** The reader for a backend instance the runtime's kernels run on (wasm, or one given to `registerMemory`). */
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

/** Makes the runtime's kernels read and allocate `backend`'s tensors through `memory`. */
export function registerMemory(backend: object, memory: KernelMemory): void {
  memories.set(backend, memory);
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
