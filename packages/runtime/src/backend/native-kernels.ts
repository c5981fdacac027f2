import { type AdamSettings, loadNativeAddon, type NativeAddon, type SgdSettings } from '@circuit-tuning/native';
import type { BatchMatMulAttrs, KernelFunc, SumAttrs, TensorInfo, TransposeAttrs, _FusedMatMulAttrs } from '@tensorflow/tfjs-core';
import { type KernelMemory, memoryOf } from './kernel-memory';
import { broadcastStrides } from './broadcast-kernels';
import { KernelTakeover } from './kernel-takeover';
import { sgdMaskLayout } from './sgd-operands';
import { registerNativeBackend } from './native-backend';
import { tf } from './tf';
import { wasmPackage } from './wasm-package';

/**
 * The `native-matmul` kernels: BatchMatMul and _FusedMatMul computed by OpenBLAS
 * (packages/native) straight on the backend's memory, without copies; Sum over leading or
 * trailing axes (`native-sum`) without the stock kernel's transpose; and the runtime's own fused
 * kernels (Adam, gelu_new, LayerNorm, cross-entropy, attention's softmax), which the ops in
 * src/ops use when they are registered for the active backend.
 *
 * They run on two backends, each through its reader of tensor memory (kernel-memory.ts): `wasm`
 * (views of its heap) and `native` (tfjs-backend-cpu's typed arrays in process memory,
 * native-backend.ts). The addon reads a Float32Array wherever it lives, so each kernel has one C
 * implementation.
 *
 * XNNPACK in wasm reaches about 60 GFLOP/s on this machine's two cores and only on untransposed,
 * unbatched products; OpenBLAS reaches about 250 GFLOP/s and takes transposes and batches as they
 * come, so the gradients' transposed products need no explicit transposes when these kernels run.
 * Every other kernel, and autodiff, is the backend's own.
 */

/** The backends the native kernels can be registered for. */
export type NativeKernelsBackend = 'wasm' | 'native';

type KernelParams = Parameters<KernelFunc>[0];


/** Kernels of the runtime's own (no stock version): fused Adam/AdamW and SGD steps (ops/adam.ts,
 * ops/sgd.ts), and gelu_new with its gradient (ops/activation.ts). */
export const ADAM_STEP_KERNEL = 'CtAdamStep';
export const SGD_STEP_KERNEL = 'CtSgdStep';
export const GELU_TANH_KERNEL = 'CtGeluTanh';
export const GELU_TANH_GRAD_KERNEL = 'CtGeluTanhGrad';
export const LAYER_NORM_KERNEL = 'CtLayerNorm';
export const LAYER_NORM_GRAD_KERNEL = 'CtLayerNormGrad';
export const RMS_NORM_KERNEL = 'CtRmsNorm';
export const RMS_NORM_GRAD_KERNEL = 'CtRmsNormGrad';
export const CROSS_ENTROPY_KERNEL = 'CtCrossEntropy';
export const CROSS_ENTROPY_GRAD_KERNEL = 'CtCrossEntropyGrad';
export const MASKED_SOFTMAX_KERNEL = 'CtMaskedSoftmax';
export const SOFTMAX_GRAD_KERNEL = 'CtSoftmaxGrad';

/** What the native kernels run on, once they are registered. */
export interface NativeKernelsInfo {
  library: string;
  config: string;
  threads: number;
  /** Threads of the addon's own loops (gelu, LayerNorm, Adam, ...): 1 when built without OpenMP. */
  loopThreads: number;
}

let addon: NativeAddon | undefined;

/**
 * Registers the native kernels for `backend` with `threads` BLAS threads. Returns why they could
 * not be used (addon not built, no BLAS library, CT_NATIVE=off) instead of throwing: the
 * stock kernels then stay.
 */
export function applyNativeKernels(
  threads: number,
  backend: NativeKernelsBackend = 'wasm',
): { ok: true; info: NativeKernelsInfo } | { ok: false; reason: string; hint: string } {
  const loaded = loadNativeAddon({ threads });
  if (!loaded.ok) return loaded;
  addon = loaded.addon;
  // The stock kernels must be registered before they are taken over.
  if (backend === 'wasm') wasmPackage();
  else registerNativeBackend();
  takeovers[backend].apply();
  for (const [kernelName, kernelFunc] of OWN_KERNELS) {
    if (tf.getKernel(kernelName, backend) === undefined) tf.registerKernel({ kernelName, backendName: backend, kernelFunc });
  }
  return { ok: true, info: { library: addon.library, config: addon.config, threads: addon.threads, loopThreads: addon.loopThreads } };
}

/** Puts `backend`'s stock kernels back (for the fallback path and for comparisons). */
export function removeNativeKernels(backend: NativeKernelsBackend = 'wasm'): void {
  takeovers[backend].remove();
  for (const [kernelName] of OWN_KERNELS) {
    if (tf.getKernel(kernelName, backend) !== undefined) tf.unregisterKernel(kernelName, backend);
  }
}

/** Whether the native kernels run on `backend` (default: the active tfjs backend). */
export function nativeKernelsApplied(backend?: NativeKernelsBackend): boolean {
  const name = backend ?? tf.getBackend();
  return (name === 'wasm' || name === 'native') && takeovers[name].applied;
}

/** The takeover of the backend a kernel call runs on (for the stock kernel of inputs it passes on). */
function stock(params: KernelParams): KernelTakeover<TakenOver> {
  return takeovers[memoryOf(params.backend).backendName as NativeKernelsBackend];
}

function batchMatMul(params: KernelParams): TensorInfo {
  const { a, b } = params.inputs as { a: TensorInfo; b: TensorInfo };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock(params).runStock('BatchMatMul', params) as TensorInfo;
  const { transposeA, transposeB } = params.attrs as unknown as BatchMatMulAttrs;
  return nativeProduct(memoryOf(params.backend), a, b, transposeA, transposeB);
}

/** _FusedMatMul = product, then bias, then activation: the last two by the backend's kernels. */
function fusedMatMul(params: KernelParams): TensorInfo | TensorInfo[] {
  const { a, b, bias, preluActivationWeights } = params.inputs as Record<string, TensorInfo | undefined>;
  if (a === undefined || b === undefined || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return stock(params).runStock('_FusedMatMul', params);
  }
  const { transposeA, transposeB, activation, leakyreluAlpha } = params.attrs as unknown as _FusedMatMulAttrs;
  const mem = memoryOf(params.backend);
  let out = nativeProduct(mem, a, b, transposeA, transposeB);
  const then = (kernel: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown> = {}) => {
    const config = tf.getKernel(kernel, mem.backendName);
    if (config === undefined) throw new Error(`the ${mem.backendName} backend has no ${kernel} kernel`);
    const next = config.kernelFunc({ inputs, backend: params.backend, attrs: attrs as never }) as TensorInfo;
    mem.dispose(out.dataId);
    out = next;
  };
  if (bias !== undefined) then('Add', { a: out, b: bias });
  switch (activation) {
    case undefined:
    case 'linear':
      break;
    case 'relu':
      then('Relu', { x: out });
      break;
    case 'relu6':
      then('Relu6', { x: out });
      break;
    case 'elu':
      then('Elu', { x: out });
      break;
    case 'sigmoid':
      then('Sigmoid', { x: out });
      break;
    case 'leakyrelu':
      then('LeakyRelu', { x: out }, { alpha: leakyreluAlpha ?? 0.2 });
      break;
    case 'prelu':
      if (preluActivationWeights === undefined) throw new Error('_FusedMatMul: prelu needs preluActivationWeights');
      then('Prelu', { x: out, alpha: preluActivationWeights });
      break;
    default:
      throw new Error(`_FusedMatMul: unknown activation '${String(activation)}'`);
  }
  return out;
}

/**
 * An optimizer step's outputs for the state it updates (`updated`: the parameter, its moments or
 * velocity, its counts). In place when nothing else holds any of them (each has one reference: its
 * variable) and no two inputs share memory: the outputs share the inputs' memory, and the step
 * reads and writes each entry once instead of filling fresh arrays (less memory traffic, and no
 * second copy of the largest parameter). A snapshot or any other holder of one of them (the shared
 * Identity makes clones references) keeps the step out of place.
 */
function stepOutputs(mem: KernelMemory, updated: readonly TensorInfo[], readOnly: readonly TensorInfo[]): TensorInfo[] {
  const all = [...updated, ...readOnly];
  const inPlace = new Set(all.map((x) => x.dataId)).size === all.length && updated.every((x) => mem.refCount(x.dataId) === 1);
  return inPlace ? updated.map((x) => mem.share(x)) : updated.map((x) => mem.make(x.shape, 'float32'));
}

/** Inputs param, grad, m, v, t (and mask); outputs the new param, m, v and t (t: one count per entry, or one for all without a mask). */
function adamStep(params: KernelParams): TensorInfo[] {
  const native = addon;
  if (native === undefined) throw new Error('native kernels registered without the addon');
  const mem = memoryOf(params.backend);
  const [param, grad, m, v, t] = float32Inputs(ADAM_STEP_KERNEL, params, ['param', 'grad', 'm', 'v', 't']) as [TensorInfo, TensorInfo, TensorInfo, TensorInfo, TensorInfo];
  const mask = (params.inputs as Record<string, TensorInfo | undefined>).mask;
  const size = tf.util.sizeFromShape(param.shape);
  // Without a mask, t may be one count that every entry shares.
  const sharedCount = mask === undefined && tf.util.sizeFromShape(t.shape) === 1;
  for (const x of [grad, m, v, ...(sharedCount ? [] : [t]), ...(mask === undefined ? [] : [mask])]) {
    if (tf.util.sizeFromShape(x.shape) !== size) throw new Error(`${ADAM_STEP_KERNEL}: every input needs the shape [${param.shape}], got [${x.shape}]`);
  }
  const outs = stepOutputs(mem, [param, m, v, t], [grad, ...(mask === undefined ? [] : [mask])]);
  if (size === 0) return outs;
  const [outParam, outM, outV, outT] = outs.map((x) => f32(mem, x)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const attrs = params.attrs as unknown as AdamSettings & { learningRate: number };
  native.adamStep({
    param: f32(mem, param),
    grad: f32(mem, grad),
    m: f32(mem, m),
    v: f32(mem, v),
    t: f32(mem, t),
    ...(mask === undefined ? {} : { mask: f32(mem, mask) }),
    out: { param: outParam, m: outM, v: outV, t: outT },
    learningRate: attrs.learningRate,
    beta1: attrs.beta1,
    beta2: attrs.beta2,
    epsilon: attrs.epsilon,
    weightDecay: attrs.weightDecay,
    decoupled: attrs.decoupled,
  });
  return outs;
}

/**
 * Sum over a block of leading axes (bias gradients: one sum per column) or of trailing axes (one
 * per row), or over any other axis set after a native transpose; other dtypes go to the stock kernel.
 */
function sum(params: KernelParams): TensorInfo | TensorInfo[] {
  const native = addon;
  const { x } = params.inputs as { x: TensorInfo };
  if (native === undefined || x.dtype !== 'float32') return stock(params).runStock('Sum', params);
  const { axis, keepDims } = params.attrs as unknown as SumAttrs;
  const rank = x.shape.length;
  const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((p, q) => p - q);
  const leading = axes.every((a, i) => a === i);
  const trailing = axes.every((a, i) => a === rank - axes.length + i);
  if (axes.length === 0) return stock(params).runStock('Sum', params);
  const kept = x.shape.map((size, d) => (axes.includes(d) ? (keepDims ? 1 : -1) : size)).filter((size) => size >= 0);
  const mem = memoryOf(params.backend);
  const out = mem.make(kept, 'float32');
  const reduced = axes.reduce((product, a) => product * (x.shape[a] ?? 1), 1);
  const size = tf.util.sizeFromShape(x.shape);
  const other = reduced === 0 ? tf.util.sizeFromShape(kept) : size / reduced;
  if (tf.util.sizeFromShape(kept) === 0) return out;
  const outView = f32(mem, out);
  if (size === 0) {
    outView.fill(0);
    return out;
  }
  const xView = f32(mem, x);
  if (leading) native.sum(xView, outView, reduced, other, true);
  else if (trailing) native.sum(xView, outView, other, reduced, false);
  else {
    // Other axis sets: the reduced axes moved last (as the stock kernels do), then one sum per row.
    // On native the stock cpu Sum transposes element by element.
    const moved = new Float32Array(size);
    native.transpose(xView, moved, x.shape, [...x.shape.keys()].filter((d) => !axes.includes(d)).concat(axes));
    native.sum(moved, outView, other, reduced, false);
  }
  return out;
}

/**
 * Transpose of float32 or int32 tensors: runs of elements that stay contiguous are copied whole,
 * on the addon's threads (the stock kernel computes every element's source on one thread). A
 * permutation that moves no data shares the input, as Identity does.
 */
function transpose(params: KernelParams): TensorInfo | TensorInfo[] {
  const native = addon;
  const { x } = params.inputs as { x: TensorInfo };
  if (native === undefined || (x.dtype !== 'float32' && x.dtype !== 'int32')) return stock(params).runStock('Transpose', params);
  const { perm } = params.attrs as unknown as TransposeAttrs;
  const mem = memoryOf(params.backend);
  const outShape = perm.map((axis) => x.shape[axis] ?? 0);
  const moved = perm.filter((axis) => (x.shape[axis] ?? 0) !== 1);
  if (moved.every((axis, i) => i === 0 || axis > (moved[i - 1] ?? 0))) return mem.share(x, outShape);
  const out = mem.make(outShape, x.dtype);
  if (tf.util.sizeFromShape(x.shape) === 0) return out;
  const heap = (t: TensorInfo) => mem.view(t) as Float32Array | Int32Array;
  native.transpose(heap(x), heap(out), x.shape, perm);
  return out;
}

/**
 * a + b in float32 when the shapes are equal or one is a trailing block of the other (a bias
 * added to every row, a mask to every head); other broadcasts and dtypes go to the stock kernel.
 */
function add(params: KernelParams): TensorInfo | TensorInfo[] {
  const native = addon;
  const { a, b } = params.inputs as { a: TensorInfo; b: TensorInfo };
  if (native === undefined || a.dtype !== 'float32' || b.dtype !== 'float32') return stock(params).runStock('Add', params);
  // The larger operand first (addition commutes exactly in IEEE arithmetic).
  const [big, small] = tf.util.sizeFromShape(a.shape) >= tf.util.sizeFromShape(b.shape) ? [a, b] : [b, a];
  const inner = stripLeadingOnes(small.shape);
  const repeats = inner.length <= big.shape.length && inner.every((size, i) => size === big.shape[big.shape.length - inner.length + i]);
  if (inner.length === 0 || !repeats || big.shape.length < small.shape.length) return stock(params).runStock('Add', params); // scalars too
  const mem = memoryOf(params.backend);
  const out = mem.make(big.shape, 'float32');
  if (tf.util.sizeFromShape(big.shape) === 0) return out;
  native.add(f32(mem, big), f32(mem, small), f32(mem, out));
  return out;
}

function stripLeadingOnes(shape: readonly number[]): number[] {
  const first = shape.findIndex((size) => size !== 1);
  return first < 0 ? [] : shape.slice(first);
}

/** gelu_new(x), elementwise. */
function geluTanh(params: KernelParams): TensorInfo {
  const native = addon;
  const { x } = params.inputs as { x?: TensorInfo };
  if (native === undefined || x === undefined || x.dtype !== 'float32') throw new Error(`${GELU_TANH_KERNEL}: needs a float32 input x`);
  const mem = memoryOf(params.backend);
  const out = mem.make(x.shape, 'float32');
  if (tf.util.sizeFromShape(x.shape) > 0) native.geluTanh(f32(mem, x), f32(mem, out));
  return out;
}

/** dy · gelu_new'(x), elementwise. */
function geluTanhGrad(params: KernelParams): TensorInfo {
  const native = addon;
  const { x, dy } = params.inputs as { x?: TensorInfo; dy?: TensorInfo };
  if (native === undefined || x === undefined || dy === undefined || x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`${GELU_TANH_GRAD_KERNEL}: needs float32 inputs x and dy`);
  }
  if (!tf.util.arraysEqual(x.shape, dy.shape)) throw new Error(`${GELU_TANH_GRAD_KERNEL}: x [${x.shape}] and dy [${dy.shape}] differ`);
  const mem = memoryOf(params.backend);
  const out = mem.make(x.shape, 'float32');
  if (tf.util.sizeFromShape(x.shape) > 0) {
    native.geluTanhGrad(f32(mem, x), f32(mem, dy), f32(mem, out));
  }
  return out;
}

/** The float32 inputs `names` of a kernel, or an error naming the kernel. */
function float32Inputs(kernel: string, params: KernelParams, names: readonly string[]): TensorInfo[] {
  const inputs = params.inputs as Record<string, TensorInfo | undefined>;
  return names.map((name) => {
    const x = inputs[name];
    if (x === undefined || x.dtype !== 'float32') throw new Error(`${kernel}: input '${name}' must be a float32 tensor`);
    return x;
  });
}

/** Rows and width of a LayerNorm over the last axis of x, with w (and b) of that width. */
function normShape(kernel: string, x: TensorInfo, ...perFeature: TensorInfo[]): { rows: number; d: number } {
  const d = x.shape[x.shape.length - 1] ?? 0;
  for (const t of perFeature) {
    if (t.shape.length !== 1 || t.shape[0] !== d) throw new Error(`${kernel}: [${t.shape}] is not [${d}], the last axis of x [${x.shape}]`);
  }
  return { rows: d === 0 ? 0 : tf.util.sizeFromShape(x.shape) / d, d };
}

/** LayerNorm over the last axis: inputs x, w, b; attr eps. */
function layerNorm(params: KernelParams): TensorInfo {
  const native = addon;
  if (native === undefined) throw new Error('native kernels registered without the addon');
  const [x, w, b] = float32Inputs(LAYER_NORM_KERNEL, params, ['x', 'w', 'b']) as [TensorInfo, TensorInfo, TensorInfo];
  const { rows, d } = normShape(LAYER_NORM_KERNEL, x, w, b);
  const mem = memoryOf(params.backend);
  const out = mem.make(x.shape, 'float32');
  if (rows * d === 0) return out;
  native.layerNorm(f32(mem, x), f32(mem, w), f32(mem, b), f32(mem, out), rows, d, (params.attrs as unknown as { eps: number }).eps);
  return out;
}

/**
 * LayerNorm's three gradients in one pass: inputs x, w, dy; attr eps; outputs dx [like x], dw and
 * db [d]. (tfjs asks for each input's gradient separately; the gradient function takes them all
 * from this one call.)
 */
function layerNormGrad(params: KernelParams): TensorInfo[] {
  const native = addon;
  if (native === undefined) throw new Error('native kernels registered without the addon');
  const [x, w, dy] = float32Inputs(LAYER_NORM_GRAD_KERNEL, params, ['x', 'w', 'dy']) as [TensorInfo, TensorInfo, TensorInfo];
  if (!tf.util.arraysEqual(x.shape, dy.shape)) throw new Error(`${LAYER_NORM_GRAD_KERNEL}: x [${x.shape}] and dy [${dy.shape}] differ`);
  const { rows, d } = normShape(LAYER_NORM_GRAD_KERNEL, x, w);
  const { eps } = params.attrs as unknown as { eps: number };
  const mem = memoryOf(params.backend);
  const outs = [mem.make(x.shape, 'float32'), mem.make([d], 'float32'), mem.make([d], 'float32')];
  if (d === 0) return outs;
  const [dx, dw, db] = outs.map((t) => f32(mem, t)) as [Float32Array, Float32Array, Float32Array];
  if (rows === 0) {
    dw.fill(0);
    db.fill(0);
    return outs;
  }
  native.layerNormGrad(f32(mem, x), f32(mem, w), f32(mem, dy), dx, dw, db, rows, d, eps);
  return outs;
}

/** RMSNorm over the last axis: inputs x [..., d], w [d]; attr eps. */
function rmsNorm(params: KernelParams): TensorInfo {
  const native = addon;
  if (native === undefined) throw new Error('native kernels registered without the addon');
  const [x, w] = float32Inputs(RMS_NORM_KERNEL, params, ['x', 'w']) as [TensorInfo, TensorInfo];
  const { rows, d } = normShape(RMS_NORM_KERNEL, x, w);
  const mem = memoryOf(params.backend);
  const out = mem.make(x.shape, 'float32');
  if (rows * d === 0) return out;
  native.rmsNorm(f32(mem, x), f32(mem, w), f32(mem, out), rows, d, (params.attrs as unknown as { eps: number }).eps);
  return out;
}

/** RMSNorm's two gradients in one pass: inputs x, w, dy; attr eps; outputs dx [like x] and dw [d]. */
function rmsNormGrad(params: KernelParams): TensorInfo[] {
  const native = addon;
  if (native === undefined) throw new Error('native kernels registered without the addon');
  const [x, w, dy] = float32Inputs(RMS_NORM_GRAD_KERNEL, params, ['x', 'w', 'dy']) as [TensorInfo, TensorInfo, TensorInfo];
  if (!tf.util.arraysEqual(x.shape, dy.shape)) throw new Error(`${RMS_NORM_GRAD_KERNEL}: x [${x.shape}] and dy [${dy.shape}] differ`);
  const { rows, d } = normShape(RMS_NORM_GRAD_KERNEL, x, w);
  const { eps } = params.attrs as unknown as { eps: number };
  const mem = memoryOf(params.backend);
  const outs = [mem.make(x.shape, 'float32'), mem.make([d], 'float32')];
  if (d === 0) return outs;
  const [dx, dw] = outs.map((t) => f32(mem, t)) as [Float32Array, Float32Array];
  if (rows === 0) {
    dw.fill(0);
    return outs;
  }
  native.rmsNormGrad(f32(mem, x), f32(mem, w), f32(mem, dy), dx, dw, rows, d, eps);
  return outs;
}

/** Logits [rows, v] and int32 targets [rows], each a column index (checked natively). */
function crossEntropyInputs(kernel: string, params: KernelParams): { x: TensorInfo; targets: TensorInfo; rows: number; v: number } {
  const [x] = float32Inputs(kernel, params, ['x']) as [TensorInfo];
  const targets = (params.inputs as Record<string, TensorInfo | undefined>)['targets'];
  if (x.shape.length !== 2) throw new Error(`${kernel}: logits must be [rows, vocab], got [${x.shape}]`);
  const [rows, v] = x.shape as [number, number];
  if (targets === undefined || targets.dtype !== 'int32' || targets.shape.length !== 1 || targets.shape[0] !== rows) {
    throw new Error(`${kernel}: targets must be an int32 [${rows}] tensor, got ${targets === undefined ? 'none' : `${targets.dtype} [${targets.shape}]`}`);
  }
  return { x, targets, rows, v };
}

/** Per-row cross-entropy: inputs x [rows, v], targets [rows] → [rows]. */
function crossEntropy(params: KernelParams): TensorInfo {
  const native = addon;
  if (native === undefined) throw new Error('native kernels registered without the addon');
  const { x, targets, rows, v } = crossEntropyInputs(CROSS_ENTROPY_KERNEL, params);
  const mem = memoryOf(params.backend);
  const out = mem.make([rows], 'float32');
  if (rows === 0) return out;
  const heap = (t: TensorInfo) => mem.view(t);
  native.crossEntropy(heap(x) as Float32Array, heap(targets) as Int32Array, heap(out) as Float32Array, rows, v);
  return out;
}

/** Its gradient w.r.t. x: inputs x, targets, the forward's loss and dy (both [rows]) → [rows, v]. */
function crossEntropyGrad(params: KernelParams): TensorInfo {
  const native = addon;
  if (native === undefined) throw new Error('native kernels registered without the addon');
  const { x, targets, rows, v } = crossEntropyInputs(CROSS_ENTROPY_GRAD_KERNEL, params);
  const [loss, dy] = float32Inputs(CROSS_ENTROPY_GRAD_KERNEL, params, ['loss', 'dy']) as [TensorInfo, TensorInfo];
  for (const [name, t] of [['loss', loss], ['dy', dy]] as const) {
    if (t.shape.length !== 1 || t.shape[0] !== rows) throw new Error(`${CROSS_ENTROPY_GRAD_KERNEL}: ${name} must be [${rows}], got [${t.shape}]`);
  }
  const mem = memoryOf(params.backend);
  const out = mem.make(x.shape, 'float32');
  if (rows === 0) return out;
  const heap = (t: TensorInfo) => mem.view(t);
  native.crossEntropyGrad(heap(x) as Float32Array, heap(targets) as Int32Array, heap(loss) as Float32Array, heap(dy) as Float32Array, heap(out) as Float32Array, rows, v);
  return out;
}

/**
 * A kernel over rows of the last axis of two float32 inputs (the second the first's shape, or a
 * block of rows that repeats over it), with attr `scale`, whose output has the first's shape.
 */
function scaledRowsKernel(
  kernel: string,
  names: readonly [string, string],
  sameShape: boolean,
  run: (native: NativeAddon, first: Float32Array, second: Float32Array, out: Float32Array, width: number, scale: number) => void,
): KernelFunc {
  return (params: KernelParams) => {
    const native = addon;
    if (native === undefined) throw new Error('native kernels registered without the addon');
    const [x, other] = float32Inputs(kernel, params, names) as [TensorInfo, TensorInfo];
    const width = x.shape[x.shape.length - 1] ?? 0;
    const rows = (t: TensorInfo) => (width === 0 ? 0 : tf.util.sizeFromShape(t.shape) / width);
    const fits = other.shape[other.shape.length - 1] === width && (sameShape ? tf.util.arraysEqual(x.shape, other.shape) : rows(other) > 0 && rows(x) % rows(other) === 0);
    if (!fits) throw new Error(`${kernel}: [${other.shape}] does not fit [${x.shape}]`);
    const mem = memoryOf(params.backend);
    const out = mem.make(x.shape, 'float32');
    if (tf.util.sizeFromShape(x.shape) === 0) return out;
    run(native, f32(mem, x), f32(mem, other), f32(mem, out), width, (params.attrs as unknown as { scale: number }).scale);
    return out;
  };
}

/** softmax(x·scale + mask) over the last axis: x [..., T], mask [M, T] with M dividing x's rows. */
const maskedSoftmax = scaledRowsKernel(MASKED_SOFTMAX_KERNEL, ['x', 'mask'], false, (native, ...args) => native.maskedSoftmax(...args));
/** Its gradient w.r.t. x from p (the softmax) and dp, both [..., T]. */
const softmaxGrad = scaledRowsKernel(SOFTMAX_GRAD_KERNEL, ['p', 'dp'], true, (native, ...args) => native.softmaxGrad(...args));

/**
 * Inputs param, grad, velocity (with momentum) and mask (optional: the parameter's shape, or one
 * value per row [rows, 1] or per column [1, cols] of a matrix); outputs the new param and, with
 * momentum, the new velocity; in place as stepOutputs says.
 */
function sgdStep(params: KernelParams): TensorInfo[] {
  const native = addon;
  if (native === undefined) throw new Error('native kernels registered without the addon');
  const mem = memoryOf(params.backend);
  const attrs = params.attrs as unknown as SgdSettings & { learningRate: number };
  const [param, grad] = float32Inputs(SGD_STEP_KERNEL, params, ['param', 'grad']) as [TensorInfo, TensorInfo];
  const velocity = attrs.momentum > 0 ? float32Inputs(SGD_STEP_KERNEL, params, ['velocity'])[0] : undefined;
  const mask = (params.inputs as Record<string, TensorInfo | undefined>).mask === undefined ? undefined : float32Inputs(SGD_STEP_KERNEL, params, ['mask'])[0];
  const along = sgdMaskLayout(SGD_STEP_KERNEL, param.shape, grad.shape, velocity?.shape, mask?.shape);
  const outs = stepOutputs(mem, [param, ...(velocity ? [velocity] : [])], [grad, ...(mask ? [mask] : [])]);
  if (tf.util.sizeFromShape(param.shape) === 0) return outs;
  const [outParam, outVelocity] = outs.map((x) => f32(mem, x));
  const cols = param.shape.at(-1) ?? 1;
  native.sgdStep({
    param: f32(mem, param),
    grad: f32(mem, grad),
    ...(velocity ? { velocity: f32(mem, velocity) } : {}),
    ...(mask && along ? { mask: along === 'entries' ? { values: f32(mem, mask), along } : { values: f32(mem, mask), along, cols } } : {}),
    out: { param: outParam!, ...(outVelocity ? { velocity: outVelocity } : {}) },
    learningRate: attrs.learningRate,
    momentum: attrs.momentum,
    weightDecay: attrs.weightDecay,
  });
  return outs;
}

const OWN_KERNELS: ReadonlyArray<readonly [string, KernelFunc]> = [
  [MASKED_SOFTMAX_KERNEL, maskedSoftmax],
  [SOFTMAX_GRAD_KERNEL, softmaxGrad],
  [CROSS_ENTROPY_KERNEL, crossEntropy as KernelFunc],
  [CROSS_ENTROPY_GRAD_KERNEL, crossEntropyGrad as KernelFunc],
  [LAYER_NORM_KERNEL, layerNorm as KernelFunc],
  [LAYER_NORM_GRAD_KERNEL, layerNormGrad as KernelFunc],
  [RMS_NORM_KERNEL, rmsNorm as KernelFunc],
  [RMS_NORM_GRAD_KERNEL, rmsNormGrad as KernelFunc],
  [ADAM_STEP_KERNEL, adamStep as KernelFunc],
  [SGD_STEP_KERNEL, sgdStep as KernelFunc],
  [GELU_TANH_KERNEL, geluTanh as KernelFunc],
  [GELU_TANH_GRAD_KERNEL, geluTanhGrad as KernelFunc],
];

type TakenOver = 'BatchMatMul' | '_FusedMatMul' | 'Sum' | 'Transpose' | 'Add';

const REPLACEMENTS: Readonly<Record<TakenOver, KernelFunc>> = {
  BatchMatMul: batchMatMul as KernelFunc,
  _FusedMatMul: fusedMatMul,
  Sum: sum,
  Transpose: transpose,
  Add: add,
};

const takeovers: Readonly<Record<NativeKernelsBackend, KernelTakeover<TakenOver>>> = {
  wasm: new KernelTakeover('wasm', REPLACEMENTS),
  native: new KernelTakeover('native', REPLACEMENTS),
};

/**
 * op(a) · op(b) over broadcast batch axes, as tfjs's BatchMatMul defines it: a [...batchA, m, k]
 * (or [..., k, m] transposed), b [...batchB, k, n] (or [..., n, k]).
 */
function nativeProduct(mem: KernelMemory, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
  const native = addon;
  if (native === undefined) throw new Error('native kernels registered without a BLAS library');
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) throw new Error(`BatchMatMul needs rank ≥ 2 inputs, got [${a.shape}] and [${b.shape}]`);
  const m = dim(a.shape, transposeA ? ra - 1 : ra - 2);
  const kA = dim(a.shape, transposeA ? ra - 2 : ra - 1);
  const kB = dim(b.shape, transposeB ? rb - 1 : rb - 2);
  const n = dim(b.shape, transposeB ? rb - 2 : rb - 1);
  if (kA !== kB) {
    throw new Error(
      `Error in matMul: inner shapes (${kA}) and (${kB}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batchOut = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
  const out = mem.make([...batchOut, m, n], 'float32');
  const batch = tf.util.sizeFromShape(batchOut);
  if (batch * m * n === 0) return out;
  // Views are taken after makeOutput: allocating may grow the heap, which replaces its buffer.
  const av = f32(mem, a);
  const bv = f32(mem, b);
  const cv = f32(mem, out);
  const common = { a: av, b: bv, c: cv, m, n, k: kA, transposeA, transposeB };
  const sizeA = tf.util.sizeFromShape(batchA);
  const sizeB = tf.util.sizeFromShape(batchB);
  const uniform = (size: number) => size === batch || size === 1;
  if (uniform(sizeA) && uniform(sizeB)) {
    // Each operand is either one matrix per output entry or one matrix for all of them.
    native.gemm({
      ...common,
      batch,
      aStride: sizeA === 1 ? 0 : m * kA,
      bStride: sizeB === 1 ? 0 : kA * n,
      cStride: m * n,
    });
    return out;
  }
  // Broadcasting across several batch axes (e.g. [2, 1] with [1, 3]): one product per entry.
  const stridesA = broadcastStrides(batchA, batchOut);
  const stridesB = broadcastStrides(batchB, batchOut);
  const index = new Array<number>(batchOut.length).fill(0);
  for (let entry = 0; entry < batch; entry++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < batchOut.length; d++) {
      ia += (index[d] ?? 0) * (stridesA[d] ?? 0);
      ib += (index[d] ?? 0) * (stridesB[d] ?? 0);
    }
    native.gemm({ ...common, batch: 1, aOffset: ia * m * kA, bOffset: ib * kA * n, cOffset: entry * m * n });
    for (let d = batchOut.length - 1; d >= 0; d--) {
      index[d] = (index[d] ?? 0) + 1;
      if ((index[d] ?? 0) < (batchOut[d] ?? 1)) break;
      index[d] = 0;
    }
  }
  return out;
}

/**
 * A float32 tensor's data where it lives. Take views after a kernel's last `make`: on wasm,
 * allocating may grow the heap, which replaces its buffer.
 */
function f32(mem: KernelMemory, t: TensorInfo): Float32Array {
  return mem.view(t) as Float32Array;
}

function dim(shape: readonly number[], axis: number): number {
  return shape[axis] ?? 0;
}
