import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** `off` disables the native addon (its kernels and the `native` backend); anything else (or unset) uses it when it loads. */
export const NATIVE_ADDON_ENV = 'CT_NATIVE';
/** The same switch's first name, from when the addon only computed products; still honoured. */
const FORMER_NATIVE_ADDON_ENV = 'CT_NATIVE_BLAS';

/** The variable that turns the addon off (`CT_NATIVE=off`, or the former `CT_NATIVE_BLAS=off`), if one does. */
export function nativeAddonOff(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return [NATIVE_ADDON_ENV, FORMER_NATIVE_ADDON_ENV].find((name) => env[name] === 'off');
}
/** A BLAS shared library to open instead of the default candidates (a path or a soname). */
export const BLAS_LIBRARY_ENV = 'CT_BLAS_LIBRARY';

/** Tried in order: Debian's libopenblas0-pthread / -openmp / -serial all provide the first. */
const DEFAULT_LIBRARIES = ['libopenblas.so.0', 'libopenblas.so'];

const ADDON = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Release', 'ct_native.node');

/**
 * One batch of row-major products C[i] = op(A[i]) · op(B[i]), op(A) m×k and op(B) k×n. Operand i
 * starts at offset + i·stride elements of its array; a stride of 0 repeats (broadcasts) it.
 */
export interface GemmOperands {
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
  batch: number;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
  aOffset?: number;
  aStride?: number;
  bOffset?: number;
  bStride?: number;
  cOffset?: number;
  cStride?: number;
}

/**
 * Adam's settings, declared once for the whole stack: the training package's config and optimizer,
 * the runtime's fused kernel and this addon's call all take this type.
 */
export interface AdamSettings {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** AdamW (Loshchilov & Hutter 2019): decay the weights directly instead of adding λp to the gradient. */
  decoupled: boolean;
}

/** One Adam/AdamW step of one parameter; every array has the parameter's length. */
export interface AdamStepOperands extends AdamSettings {
  param: Float32Array;
  grad: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** Per-entry step counts. */
  t: Float32Array;
  /** 0/1 per entry: 0 keeps the entry's value, moments and count exactly. */
  mask?: Float32Array;
  out: { param: Float32Array; m: Float32Array; v: Float32Array; t: Float32Array };
  learningRate: number;
}

/** SGD's settings (PyTorch semantics: v ← μv + g + λp; p ← p − lr·v), declared once like AdamSettings. */
export interface SgdSettings {
  momentum: number;
  weightDecay: number;
}

/**
 * One SGD step of one parameter. `velocity` and `out.velocity` are absent without momentum. The
 * mask is per entry, per row (`rows`: one value per row of the [n / cols, cols] parameter) or per
 * column (`columns`: one per column); a 0 keeps the entry's value and momentum exactly.
 */
export interface SgdStepOperands extends SgdSettings {
  param: Float32Array;
  grad: Float32Array;
  velocity?: Float32Array;
  mask?: { values: Float32Array; along: 'entries' } | { values: Float32Array; along: 'rows' | 'columns'; cols: number };
  out: { param: Float32Array; velocity?: Float32Array };
  learningRate: number;
}

export interface NativeAddon {
  /** The shared library that was opened, and what it says of itself (OpenBLAS's build config). */
  library: string;
  config: string;
  /** Threads the library computes with. */
  threads: number;
  /** Threads the addon's own loops use (1 when it was built without OpenMP). */
  loopThreads: number;
  gemm(operands: GemmOperands): void;
  adamStep(operands: AdamStepOperands): void;
  sgdStep(operands: SgdStepOperands): void;
  /**
   * Sums of the row-major [rows, cols] matrix `x`: over its rows into `out` (length cols) when
   * `overRows`, else over its columns (length rows). Same addition order as tfjs's wasm Sum.
   */
  sum(x: Float32Array, out: Float32Array, rows: number, cols: number, overRows: boolean): void;
  /** y = gelu_new(x) (GPT-2's tanh approximation), elementwise. */
  geluTanh(x: Float32Array, y: Float32Array): void;
  /** dx = dy · gelu_new'(x), elementwise. */
  geluTanhGrad(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** y = LayerNorm(x)·w + b over the last axis of the row-major [rows, d] x. */
  layerNorm(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, rows: number, d: number, eps: number): void;
  /** LayerNorm's gradients: dx [rows, d] (skipped when dx is empty), dw and db [d] (summed over rows). */
  layerNormGrad(x: Float32Array, w: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array, db: Float32Array, rows: number, d: number, eps: number): void;
  /** y = x / √(mean(x²) + eps) · w over the last axis of the row-major [rows, d] x (RMSNorm). */
  rmsNorm(x: Float32Array, w: Float32Array, y: Float32Array, rows: number, d: number, eps: number): void;
  /** RMSNorm's gradients: dx [rows, d] (skipped when dx is empty) and dw [d] (summed over rows). */
  rmsNormGrad(x: Float32Array, w: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array, rows: number, d: number, eps: number): void;
  /** loss[r] = logsumexp(x[r]) − x[r, targets[r]] for the row-major [rows, v] logits x. */
  crossEntropy(x: Float32Array, targets: Int32Array, loss: Float32Array, rows: number, v: number): void;
  /** dx[r] = dy[r] · (softmax(x[r]) − onehot(targets[r])), with `loss` the forward's output. */
  crossEntropyGrad(x: Float32Array, targets: Int32Array, loss: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, v: number): void;
  /** out = x with its axes permuted (out axis i is x axis perm[i]); 4-byte elements (float32 or int32). */
  transpose(x: Float32Array | Int32Array, out: Float32Array | Int32Array, shape: readonly number[], perm: readonly number[]): void;
  /** out = a + b, with b as long as a or repeated over it (a's length a multiple of b's). */
  add(a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** out = softmax(x·scale + mask) over rows of `width`; mask's rows repeat over x's. */
  maskedSoftmax(x: Float32Array, mask: Float32Array, out: Float32Array, width: number, scale: number): void;
  /** ds = p ⊙ (dp − rowsum(dp ⊙ p)) · scale over rows of `width` (the gradient of maskedSoftmax w.r.t. x). */
  softmaxGrad(p: Float32Array, dp: Float32Array, ds: Float32Array, width: number, scale: number): void;
}

export type NativeAddonLoad = { ok: true; addon: NativeAddon } | { ok: false; reason: string; hint: string };

interface Addon {
  open(candidates: string[], threads: number): { library: string; config: string; threads: number; loopThreads: number };
  gemm(a: Float32Array, b: Float32Array, c: Float32Array, dims: Float64Array): void;
  adamStep(arrays: Float32Array[], scalars: Float64Array): void;
  sgdStep(arrays: Float32Array[], scalars: Float64Array): void;
  sum(x: Float32Array, out: Float32Array, rows: number, cols: number, overRows: boolean): void;
  geluTanh(x: Float32Array, y: Float32Array): void;
  geluTanhGrad(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  layerNorm(x: Float32Array, w: Float32Array, b: Float32Array, y: Float32Array, rows: number, d: number, eps: number): void;
  layerNormGrad(x: Float32Array, w: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array, db: Float32Array, rows: number, d: number, eps: number): void;
  rmsNorm(x: Float32Array, w: Float32Array, y: Float32Array, rows: number, d: number, eps: number): void;
  rmsNormGrad(x: Float32Array, w: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array, rows: number, d: number, eps: number): void;
  crossEntropy(x: Float32Array, targets: Int32Array, loss: Float32Array, rows: number, v: number): void;
  crossEntropyGrad(x: Float32Array, targets: Int32Array, loss: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, v: number): void;
  transpose(x: Float32Array | Int32Array, out: Float32Array | Int32Array, shape: Float64Array, perm: Float64Array): void;
  add(a: Float32Array, b: Float32Array, out: Float32Array): void;
  maskedSoftmax(x: Float32Array, mask: Float32Array, out: Float32Array, width: number, scale: number): void;
  softmaxGrad(p: Float32Array, dp: Float32Array, ds: Float32Array, width: number, scale: number): void;
}

let addon: Addon | undefined;

/**
 * Loads the addon and opens the BLAS library with `threads` threads. The library is opened once
 * per process; later calls only change the thread count.
 */
export function loadNativeAddon(options: { threads: number }): NativeAddonLoad {
  const off = nativeAddonOff();
  if (off !== undefined) {
    return { ok: false, reason: `${off}=off`, hint: `unset ${off} to use the native kernels` };
  }
  if (!existsSync(ADDON)) {
    return {
      ok: false,
      reason: 'the native addon is not built',
      hint: 'build it with: pnpm --filter @circuit-tuning/native build (needs g++, make, python3)',
    };
  }
  // The addon's own loops run on OpenMP threads; libgomp reads this when the addon loads. Passive
  // threads sleep as soon as a loop ends instead of spinning on the cores BLAS and wasm use next.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  try {
    addon ??= createRequire(import.meta.url)(ADDON) as Addon;
  } catch (error) {
    return { ok: false, reason: `the native addon failed to load: ${message(error)}`, hint: 'rebuild it with: pnpm --filter @circuit-tuning/native build' };
  }
  // OpenBLAS reads these when the library loads. Idle BLAS threads spin for 2^28 cycles (about
  // 0.1 s) by default, taking the cores from the threads that run the next ops; 2^18 (about 0.1 ms)
  // still keeps them awake between back-to-back products (measured: 128×128 products 65 → 110
  // GFLOP/s against 2^12, training throughput the same).
  process.env.OPENBLAS_NUM_THREADS ??= String(options.threads);
  process.env.OPENBLAS_THREAD_TIMEOUT ??= '18';
  const requested = process.env[BLAS_LIBRARY_ENV];
  const candidates = requested === undefined || requested === '' ? DEFAULT_LIBRARIES : [requested];
  let opened: { library: string; config: string; threads: number; loopThreads: number };
  try {
    opened = addon.open(candidates, options.threads);
  } catch (error) {
    return {
      ok: false,
      reason: `no BLAS library could be opened (${message(error)})`,
      hint: 'install OpenBLAS: apt-get install -y libopenblas0-pthread',
    };
  }
  const native = addon;
  // One reusable dims array: the call is synchronous, so it is never shared between calls.
  const dims = new Float64Array(12);
  const scalars = new Float64Array(6);
  return {
    ok: true,
    addon: {
      ...opened,
      gemm(op: GemmOperands): void {
        dims[0] = op.batch;
        dims[1] = op.m;
        dims[2] = op.n;
        dims[3] = op.k;
        dims[4] = op.transposeA ? 1 : 0;
        dims[5] = op.transposeB ? 1 : 0;
        dims[6] = op.aOffset ?? 0;
        dims[7] = op.aStride ?? 0;
        dims[8] = op.bOffset ?? 0;
        dims[9] = op.bStride ?? 0;
        dims[10] = op.cOffset ?? 0;
        dims[11] = op.cStride ?? 0;
        native.gemm(op.a, op.b, op.c, dims);
      },
      adamStep(op: AdamStepOperands): void {
        scalars[0] = op.learningRate;
        scalars[1] = op.beta1;
        scalars[2] = op.beta2;
        scalars[3] = op.epsilon;
        scalars[4] = op.weightDecay;
        scalars[5] = op.decoupled ? 1 : 0;
        const arrays = [op.param, op.grad, op.m, op.v, op.t, op.out.param, op.out.m, op.out.v, op.out.t];
        if (op.mask !== undefined) arrays.push(op.mask);
        native.adamStep(arrays, scalars);
      },
      sgdStep(op: SgdStepOperands): void {
        const empty = new Float32Array(0);
        const mask = op.mask;
        const modes = { entries: 1, rows: 2, columns: 3 } as const;
        const scalars = Float64Array.of(op.learningRate, op.momentum, op.weightDecay, mask === undefined ? 0 : modes[mask.along], mask !== undefined && 'cols' in mask ? mask.cols : 1);
        native.sgdStep([op.param, op.grad, op.velocity ?? empty, op.out.param, op.out.velocity ?? empty, mask?.values ?? empty], scalars);
      },
      sum: (x, out, rows, cols, overRows) => native.sum(x, out, rows, cols, overRows),
      geluTanh: (x, y) => native.geluTanh(x, y),
      geluTanhGrad: (x, dy, dx) => native.geluTanhGrad(x, dy, dx),
      layerNorm: (x, w, b, y, rows, d, eps) => native.layerNorm(x, w, b, y, rows, d, eps),
      layerNormGrad: (x, w, dy, dx, dw, db, rows, d, eps) => native.layerNormGrad(x, w, dy, dx, dw, db, rows, d, eps),
      rmsNorm: (x, w, y, rows, d, eps) => native.rmsNorm(x, w, y, rows, d, eps),
      rmsNormGrad: (x, w, dy, dx, dw, rows, d, eps) => native.rmsNormGrad(x, w, dy, dx, dw, rows, d, eps),
      crossEntropy: (x, targets, loss, rows, v) => native.crossEntropy(x, targets, loss, rows, v),
      crossEntropyGrad: (x, targets, loss, dy, dx, rows, v) => native.crossEntropyGrad(x, targets, loss, dy, dx, rows, v),
      transpose: (x, out, shape, perm) => native.transpose(x, out, Float64Array.from(shape), Float64Array.from(perm)),
      add: (a, b, out) => native.add(a, b, out),
      maskedSoftmax: (x, mask, out, width, scale) => native.maskedSoftmax(x, mask, out, width, scale),
      softmaxGrad: (p, dp, ds, width, scale) => native.softmaxGrad(p, dp, ds, width, scale),
    },
  };
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n', 1)[0] ?? '';
}
