import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { CROSS_ENTROPY_GRAD_KERNEL, CROSS_ENTROPY_KERNEL } from '../native-kernels';
import { groupsFor, make, run, type WebgpuBackend, float32Inputs } from './program';
import { MAIN_PARAMETERS, rowKernel, rowWorkgroup, workgroupReduce } from './reduce';

/**
 * Cross-entropy of logits rows [rows, v] against int32 targets [rows] (ops/loss.ts) with the
 * native kernels' passes (packages/native/native/loss.c): forward, one workgroup per row (its max,
 * then Σ e^{x − max}) writes loss = log Σ + max − x[target]; backward, one invocation per entry,
 * dx = e^{x − lse}·dy − [j = target]·dy with lse = loss + x[target] from the forward's loss. No
 * [rows, v] tensor but the logits and dx; the composed version (logSoftmax, a one-hot product, a
 * sum) makes about ten dispatches over [rows, v] each way.
 *
 * A target outside [0, v) cannot be reported from a shader: its row's loss and gradient are NaN.
 */

type KernelParams = Parameters<KernelFunc>[0];

function forwardBody(size: number): string {
  return rowKernel(size, ['rowMax', 'rowSum'], `
  let base = row * uniforms.v;
  var largest = -3.402823e38;
  for (var j = lane; j < uniforms.v; j = j + ${size}u) { largest = max(largest, x[base + j]); }
  ${workgroupReduce(size, 'rowMax', 'largest', 'max')}
  var sum = 0.0;
  for (var j = lane; j < uniforms.v; j = j + ${size}u) { sum = sum + exp(x[base + j] - rowMax); }
  ${workgroupReduce(size, 'rowSum', 'sum')}
  if (lane == 0u) {
    let label = targets[row];
    if (label < 0 || u32(label) >= uniforms.v) {
      loss[row] = uniforms.nan;
    } else {
      loss[row] = log(rowSum) + rowMax - x[base + u32(label)];
    }
  }`);
}

const GRAD_WORKGROUP = 256;

const GRAD_BODY = `
@compute @workgroup_size(${GRAD_WORKGROUP})
fn main(${MAIN_PARAMETERS}) {
  let i = workgroupIndex(wid, nwg) * ${GRAD_WORKGROUP}u + lid.x;
  if (i >= uniforms.size) { return; }
  let row = i / uniforms.v;
  let column = i - row * uniforms.v;
  let label = targets[row];
  if (label < 0 || u32(label) >= uniforms.v) {
    dx[i] = uniforms.nan;
    return;
  }
  let scale = dy[row];
  let lse = loss[row] + x[row * uniforms.v + u32(label)];
  var value = exp(x[i] - lse) * scale;
  if (column == u32(label)) { value = value - scale; }
  dx[i] = value;
}`;

/** Logits [rows, v] and int32 targets [rows]. */
function crossEntropyInputs(kernel: string, params: KernelParams): { x: TensorInfo; targets: TensorInfo; rows: number; v: number } {
  const inputs = params.inputs as Record<string, TensorInfo | undefined>;
  const [x] = float32Inputs(kernel, inputs, ['x']) as [TensorInfo];
  const targets = inputs.targets;
  if (x.shape.length !== 2) throw new Error(`${kernel}: logits must be [rows, vocab], got [${x.shape}]`);
  const [rows, v] = x.shape as [number, number];
  if (targets === undefined || targets.dtype !== 'int32' || targets.shape.length !== 1 || targets.shape[0] !== rows) {
    throw new Error(`${kernel}: targets must be an int32 [${rows}] tensor, got ${targets === undefined ? 'none' : `${targets.dtype} [${targets.shape}]`}`);
  }
  return { x, targets, rows, v };
}

/** Per-row cross-entropy: inputs x [rows, v], targets [rows] → [rows]. */
export function crossEntropy(params: KernelParams): TensorInfo {
  const backend = params.backend as unknown as WebgpuBackend;
  const { x, targets, rows, v } = crossEntropyInputs(CROSS_ENTROPY_KERNEL, params);
  const out = make(backend, [rows]);
  if (rows === 0) return out;
  const size = rowWorkgroup(v);
  run(backend, {
    key: `${CROSS_ENTROPY_KERNEL}-${size}`,
    body: forwardBody(size),
    bindings: [{ name: 'x', tensor: x }, { name: 'targets', tensor: targets }, { name: 'loss', tensor: out, write: true }],
    uniforms: [
      { name: 'rows', type: 'uint32', data: [rows] },
      { name: 'v', type: 'uint32', data: [v] },
      { name: 'nan', type: 'float32', data: [Number.NaN] },
    ],
    workgroups: rows,
  });
  return out;
}

/** Its gradient w.r.t. x: inputs x, targets, the forward's loss and dy (both [rows]) → [rows, v]. */
export function crossEntropyGrad(params: KernelParams): TensorInfo {
  const backend = params.backend as unknown as WebgpuBackend;
  const { x, targets, rows, v } = crossEntropyInputs(CROSS_ENTROPY_GRAD_KERNEL, params);
  const [loss, dy] = float32Inputs(CROSS_ENTROPY_GRAD_KERNEL, params.inputs as Record<string, TensorInfo | undefined>, ['loss', 'dy']) as [TensorInfo, TensorInfo];
  for (const [name, t] of [['loss', loss], ['dy', dy]] as const) {
    if (t.shape.length !== 1 || t.shape[0] !== rows) throw new Error(`${CROSS_ENTROPY_GRAD_KERNEL}: ${name} must be [${rows}], got [${t.shape}]`);
  }
  const out = make(backend, [...x.shape]);
  const size = rows * v;
  run(backend, {
    key: CROSS_ENTROPY_GRAD_KERNEL,
    body: GRAD_BODY,
    bindings: [
      { name: 'x', tensor: x },
      { name: 'targets', tensor: targets },
      { name: 'loss', tensor: loss },
      { name: 'dy', tensor: dy },
      { name: 'dx', tensor: out, write: true },
    ],
    uniforms: [
      { name: 'size', type: 'uint32', data: [size] },
      { name: 'v', type: 'uint32', data: [v] },
      { name: 'nan', type: 'float32', data: [Number.NaN] },
    ],
    workgroups: groupsFor(size, GRAD_WORKGROUP),
  });
  return out;
}
