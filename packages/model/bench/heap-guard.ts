import { tf } from '@circuit-tuning/runtime';

/**
 * A ceiling for the wasm heap. wasm32 caps the heap at 4 GiB, and an allocation past it corrupts
 * the single-threaded backend and hangs the threaded one at 100 % CPU (docs/runtime.md §6). The guard
 * wraps the module's malloc/free (every tensor is allocated through them from JavaScript) and
 * throws HeapLimitError when an allocation would end above `limitBytes`, so the pass fails cleanly
 * and the bench can report it and retry smaller. The limit sits below 4 GiB because memory the
 * C++ side allocates on its own is not seen here: XNNPACK keeps a packed copy of every matrix it
 * multiplies by (about 0.5 GB for GPT-2 small's weights; one copy is at most 154 MB, the tied
 * unembedding), and each kernel's C++ allocations follow the JavaScript allocation of its output.
 *
 * It also counts the bytes of live tensor allocations, for reporting.
 */
export class HeapLimitError extends Error {
  constructor(
    readonly wantedBytes: number,
    readonly endAddress: number,
    readonly limitBytes: number,
  ) {
    super(`wasm heap limit: allocating ${mb(wantedBytes)} MB would take the heap to ${mb(endAddress)} MB, above the ${mb(limitBytes)} MB limit`);
    this.name = 'HeapLimitError';
  }
}

interface WasmModule {
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  HEAPU8: Uint8Array;
}

/** Live allocations of one size at one moment. */
export interface SizeGroup {
  bytes: number;
  count: number;
}

export class HeapGuard {
  private readonly sizes = new Map<number, number>();
  /** Live allocations by size (bytes → count), kept up to date. */
  private readonly bySize = new Map<number, number>();
  private live = 0;
  private peak = 0;
  /** bySize when the peak was last snapshotted. */
  private peakGroups: SizeGroup[] = [];
  private snapshotAt = 0;
  /** bySize when the limit was hit (before the failed pass unwound and freed its tensors). */
  private failureGroups: SizeGroup[] | undefined;

  private constructor(
    private readonly module: WasmModule,
    private readonly limit: number,
  ) {}

  /** Installs the guard on the active wasm backend; undefined on other backends. */
  static install(limitBytes: number): HeapGuard | undefined {
    if (tf.getBackend() !== 'wasm') return undefined;
    const module = (tf.backend() as unknown as { wasm: WasmModule }).wasm;
    const guard = new HeapGuard(module, limitBytes);
    // Emscripten's exports start as lazy stubs that replace themselves on the module at their first
    // call; call them once so that the wrappers below are not overwritten.
    module._free(module._malloc(16));
    const malloc = module._malloc.bind(module);
    const free = module._free.bind(module);
    module._malloc = (bytes: number) => {
      const pointer = malloc(bytes) >>> 0;
      // Also stop when the C++ side has already grown the heap past the limit: its next packed
      // copy may not fit below 4 GiB.
      const end = pointer === 0 ? 2 ** 32 : Math.max(pointer + bytes, module.HEAPU8.length - HEAP_SLACK);
      if ((pointer === 0 && bytes > 0) || end > guard.limit) {
        if (pointer !== 0) free(pointer);
        guard.failureGroups = groups(guard.bySize);
        throw new HeapLimitError(bytes, end, guard.limit);
      }
      guard.sizes.set(pointer, bytes);
      guard.bySize.set(bytes, (guard.bySize.get(bytes) ?? 0) + 1);
      guard.live += bytes;
      if (guard.live > guard.peak) {
        guard.peak = guard.live;
        // Snapshot the composition when the peak has grown by 1 % since the last one.
        if (guard.live > guard.snapshotAt * 1.01) guard.snapshot();
      }
      return pointer;
    };
    module._free = (pointer: number) => {
      const bytes = guard.sizes.get(pointer >>> 0);
      if (bytes !== undefined) {
        guard.sizes.delete(pointer >>> 0);
        const left = (guard.bySize.get(bytes) ?? 1) - 1;
        if (left === 0) guard.bySize.delete(bytes);
        else guard.bySize.set(bytes, left);
        guard.live -= bytes;
      }
      free(pointer);
    };
    return guard;
  }

  /** Starts a new peak measurement from the current live bytes. */
  resetPeak(): void {
    this.peak = this.live;
    this.snapshot();
  }

  private snapshot(): void {
    this.snapshotAt = this.live;
    this.peakGroups = groups(this.bySize);
  }

  /** Live allocations when the limit was last hit, else now; largest total first. */
  composition(): SizeGroup[] {
    return this.failureGroups ?? groups(this.bySize);
  }

  /** Live allocations at (about) the peak, largest total first. */
  peakComposition(): SizeGroup[] {
    return this.peakGroups;
  }

  /** Largest sum of live tensor allocations since the last reset. */
  get peakBytes(): number {
    return this.peak;
  }

  /** Bytes of live tensor allocations now. */
  get liveBytes(): number {
    return this.live;
  }

  /** Size of the wasm heap (it grows, never shrinks). */
  get heapBytes(): number {
    return this.module.HEAPU8.length;
  }
}

const groups = (bySize: Map<number, number>): SizeGroup[] =>
  [...bySize].map(([bytes, count]) => ({ bytes, count })).sort((a, b) => b.bytes * b.count - a.bytes * a.count);

/** The heap may exceed the limit by this much (allocator rounding) before the guard stops a pass. */
const HEAP_SLACK = 64 * 2 ** 20;

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
