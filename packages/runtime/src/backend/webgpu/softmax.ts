import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { MASKED_SOFTMAX_KERNEL, SOFTMAX_GRAD_KERNEL } from '../native-kernels';
import { tf } from '../tf';
import { float32Inputs, make, run, type WebgpuBackend } from './program';
import { rowKernel, rowWorkgroup, workgroupReduce } from './reduce';

/**
 * Attention's masked softmax and the matching step of its gradient (ops/attention.ts), one
 * workgroup per row and one dispatch each, with the native kernels' formulas
 * (packages/native/native/softmax.c):
 *   p  = softmax(x·scale + mask_row)       mask [M, T] repeats over x's rows [R, T]
 *   ds = p ⊙ (dp − Σ_j dp_j·p_j) · scale
 * The composed tf version is three stock dispatches forward (scale, mask, softmax) and five back.
 */

type KernelParams = Parameters<KernelFunc>[0];

function softmaxBody(size: number): string {
  return rowKernel(size, ['rowMax', 'rowSum'], `
  let base = row * uniforms.width;
  let maskBase = (row % uniforms.maskRows) * uniforms.width;
  var largest = -3.402823e38;
  for (var j = lane; j < uniforms.width; j = j + ${size}u) {
    largest = max(largest, x[base + j] * uniforms.scale + mask[maskBase + j]);
  }
  ${workgroupReduce(size, 'rowMax', 'largest', 'max')}
  var sum = 0.0;
  for (var j = lane; j < uniforms.width; j = j + ${size}u) {
    sum = sum + exp(x[base + j] * uniforms.scale + mask[maskBase + j] - rowMax);
  }
  ${workgroupReduce(size, 'rowSum', 'sum')}
  let inverse = 1.0 / rowSum;
  for (var j = lane; j < uniforms.width; j = j + ${size}u) {
    out[base + j] = exp(x[base + j] * uniforms.scale + mask[maskBase + j] - rowMax) * inverse;
  }`);
}

function gradBody(size: number): string {
  return rowKernel(size, ['dot'], `
  let base = row * uniforms.width;
  var partialDot = 0.0;
  for (var j = lane; j < uniforms.width; j = j + ${size}u) {
    partialDot = partialDot + dp[base + j] * p[base + j];
  }
  ${workgroupReduce(size, 'dot', 'partialDot')}
  for (var j = lane; j < uniforms.width; j = j + ${size}u) {
    out[base + j] = p[base + j] * (dp[base + j] - dot) * uniforms.scale;
  }`);
}

/**
 * Rows of the last axis of two float32 inputs (the second the first's shape, or a block of rows
 * that repeats over it), with attr `scale`; the output has the first's shape.
 */
function scaledRows(kernel: string, names: readonly [string, string], sameShape: boolean, body: (size: number) => string): KernelFunc {
  return (params: KernelParams) => {
    const backend = params.backend as unknown as WebgpuBackend;
    const [x, other] = float32Inputs(kernel, params.inputs as Record<string, TensorInfo | undefined>, names) as [TensorInfo, TensorInfo];
    const width = x.shape[x.shape.length - 1] ?? 0;
    const rowsOf = (t: TensorInfo) => (width === 0 ? 0 : tf.util.sizeFromShape(t.shape) / width);
    const fits = other.shape[other.shape.length - 1] === width && (sameShape ? tf.util.arraysEqual(x.shape, other.shape) : rowsOf(other) > 0 && rowsOf(x) % rowsOf(other) === 0);
    if (!fits) throw new Error(`${kernel}: [${other.shape}] does not fit [${x.shape}]`);
    const out = make(backend, [...x.shape]);
    const rows = rowsOf(x);
    const size = rowWorkgroup(width);
    run(backend, {
      key: `${kernel}-${size}`,
      body: body(size),
      bindings: [{ name: names[0], tensor: x }, { name: names[1], tensor: other }, { name: 'out', tensor: out, write: true }],
      uniforms: [
        { name: 'rows', type: 'uint32', data: [rows] },
        { name: 'width', type: 'uint32', data: [width] },
        { name: 'maskRows', type: 'uint32', data: [Math.max(1, rowsOf(other))] },
        { name: 'scale', type: 'float32', data: [(params.attrs as unknown as { scale: number }).scale] },
      ],
      workgroups: rows,
    });
    return out;
  };
}

/** softmax(x·scale + mask) over the last axis: x [..., T], mask [M, T] with M dividing x's rows. */
export const maskedSoftmax = scaledRows(MASKED_SOFTMAX_KERNEL, ['x', 'mask'], false, softmaxBody);
/** Its gradient w.r.t. x from p (the softmax) and dp, both [..., T]. */
export const softmaxGrad = scaledRows(SOFTMAX_GRAD_KERNEL, ['p', 'dp'], true, gradBody);
