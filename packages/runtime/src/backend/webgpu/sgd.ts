import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { SGD_STEP_KERNEL } from '../native-kernels';
import { tf } from '../tf';
import { float32Inputs, groupsFor, run, type WebgpuBackend, writable } from './program';
import { MAIN_PARAMETERS } from './reduce';
import { type SgdMaskLayout, sgdMaskLayout } from '../sgd-operands';
import type { SgdSettings } from '@circuit-tuning/native';

/**
 * The fused SGD step (ops/sgd.ts) as one WGSL dispatch per parameter, with the native kernel's
 * operations and order (packages/native/native/sgd.c; PyTorch semantics): v ← μv + g + λp;
 * p ← p − lr·v; a 0/1 mask whose 0 entries keep their value and momentum exactly. The mask has the
 * parameter's shape, or is one value per row ([rows, 1]) or per column ([1, cols]) of a matrix, as
 * circuit-tuning builds it. In place or on copies as the Adam step (adam.ts) decides.
 */

type KernelParams = Parameters<KernelFunc>[0];


const WORKGROUP = 256;

const MASK_INDEX: Readonly<Record<SgdMaskLayout, string>> = { entries: 'i', rows: 'i / uniforms.cols', columns: 'i % uniforms.cols' };

function body(along: SgdMaskLayout | undefined, l2: boolean, momentum: boolean): string {
  return `
@compute @workgroup_size(${WORKGROUP})
fn main(${MAIN_PARAMETERS}) {
  let i = workgroupIndex(wid, nwg) * ${WORKGROUP}u + lid.x;
  if (i >= uniforms.size) { return; }
  let p = param[i];
  let free = ${along === undefined ? '1.0' : `mask[${MASK_INDEX[along]}]`};
  var g = grad[i];
  ${l2 ? 'g = g + p * uniforms.weightDecay;' : ''}
  var step = g;
  ${
    momentum
      ? `let oldV = velocity[i];
  var newV = oldV * uniforms.momentum + g;
  ${along === undefined ? '' : 'newV = oldV + free * (newV - oldV);'}
  velocity[i] = newV;
  step = newV;`
      : ''
  }
  ${along === undefined ? '' : 'step = step * free;'}
  param[i] = p - step * uniforms.learningRate;
}`;
}

/** Inputs param, grad, velocity (with momentum) and mask (optional); outputs the new param and, with momentum, velocity. */
export function sgdStep(params: KernelParams): TensorInfo[] {
  const backend = params.backend as unknown as WebgpuBackend;
  const inputs = params.inputs as Record<string, TensorInfo | undefined>;
  const attrs = params.attrs as unknown as SgdSettings & { learningRate: number };
  const [param, grad] = float32Inputs(SGD_STEP_KERNEL, inputs, ['param', 'grad']) as [TensorInfo, TensorInfo];
  const velocity = attrs.momentum > 0 ? float32Inputs(SGD_STEP_KERNEL, inputs, ['velocity'])[0] : undefined;
  const mask = inputs.mask === undefined ? undefined : float32Inputs(SGD_STEP_KERNEL, inputs, ['mask'])[0];
  const size = tf.util.sizeFromShape(param.shape);
  const along = sgdMaskLayout(SGD_STEP_KERNEL, param.shape, grad.shape, velocity?.shape, mask?.shape);
  const updated = velocity === undefined ? [param] : [param, velocity];
  const all = [...updated, grad, ...(mask === undefined ? [] : [mask])];
  const inPlace = new Set(all.map((x) => x.dataId)).size === all.length && updated.every((x) => backend.refCount(x.dataId) === 1);
  const outs = updated.map((x) => writable(backend, x, inPlace));
  if (size === 0) return outs;
  const [outParam, outVelocity] = outs as [TensorInfo, TensorInfo?];
  const l2 = attrs.weightDecay > 0;
  run(backend, {
    key: `ct-sgd-${along}-${l2}-${outVelocity !== undefined}`,
    body: body(along, l2, outVelocity !== undefined),
    bindings: [
      { name: 'param', tensor: outParam, write: true },
      ...(outVelocity === undefined ? [] : [{ name: 'velocity', tensor: outVelocity, write: true }]),
      { name: 'grad', tensor: grad },
      ...(mask === undefined ? [] : [{ name: 'mask', tensor: mask }]),
    ],
    uniforms: [
      { name: 'size', type: 'uint32', data: [size] },
      { name: 'cols', type: 'uint32', data: [param.shape.at(-1) ?? 1] },
      { name: 'learningRate', type: 'float32', data: [attrs.learningRate] },
      { name: 'momentum', type: 'float32', data: [attrs.momentum] },
      { name: 'weightDecay', type: 'float32', data: [attrs.weightDecay] },
    ],
    workgroups: groupsFor(size, WORKGROUP),
  });
  return outs;
}
