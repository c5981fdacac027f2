import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { ADAM_STEP_KERNEL } from '../native-kernels';
import type { AdamSettings } from '@circuit-tuning/native';
import { tf } from '../tf';
import { float32Inputs, groupsFor, make, run, type WebgpuBackend, writable } from './program';

/**
 * The fused Adam/AdamW step (ops/adam.ts) as one WGSL dispatch per parameter, with the native
 * kernel's semantics (packages/native/native/adam.c): per-entry step counts t, bias corrections
 * 1 − β^t of each entry's new count, a 0/1 mask whose 0 entries keep their value, moments and
 * count exactly, L2 decay added to the gradient or decoupled (AdamW) decay added to the step.
 * Without a mask t may be one count that every entry shares.
 *
 * The parameter, moments and counts are updated in place when nothing else holds them (as the
 * native stepOutputs decides), else in copies made by the command encoder; either way the shader
 * binds them read_write, so a masked step binds 6 storage buffers, under the 8 a stage may have.
 * The shared count is read by every entry, so its new value goes to a fresh tensor.
 *
 * 1 − β^t is computed as −expm1(t·ln β), ln β from the float32 β in double precision: for β2 =
 * 0.999 and small t, 1 − pow(β2, t) in float32 loses about four digits to cancellation.
 */

type KernelParams = Parameters<KernelFunc>[0];


const WORKGROUP = 256;

function body(masked: boolean, sharedCount: boolean, decay: 'none' | 'l2' | 'decoupled'): string {
  return `
// −(1 − e^x) for x ≤ 0: a series where e^x is close to 1, else 1 − e^x (then at most 10× its error).
fn correction(x: f32) -> f32 {
  if (x > -0.1) {
    return -x * (1.0 + x / 2.0 * (1.0 + x / 3.0 * (1.0 + x / 4.0 * (1.0 + x / 5.0 * (1.0 + x / 6.0)))));
  }
  return 1.0 - exp(x);
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = workgroupIndex(wid, nwg) * ${WORKGROUP}u + lid.x;
  if (i >= uniforms.size) { return; }
  let p = param[i];
  let oldM = m[i];
  let oldV = v[i];
  let free = ${masked ? 'mask[i]' : '1.0'};
  var g = grad[i];
  ${decay === 'l2' ? 'g = g + p * uniforms.weightDecay;' : ''}
  var newM = oldM * uniforms.beta1 + g * (1.0 - uniforms.beta1);
  var newV = oldV * uniforms.beta2 + (g * g) * (1.0 - uniforms.beta2);
  ${masked ? 'newM = oldM + free * (newM - oldM);\n  newV = oldV + free * (newV - oldV);' : ''}
  let count = ${sharedCount ? 't[0] + 1.0' : 't[i] + free'};
  let safeCount = max(count, 1.0);
  let c1 = correction(safeCount * uniforms.lnBeta1);
  let c2 = correction(safeCount * uniforms.lnBeta2);
  var step = (newM / c1) / (sqrt(newV / c2) + uniforms.epsilon);
  ${decay === 'decoupled' ? 'step = step + p * uniforms.weightDecay;' : ''}
  ${masked ? 'step = step * free;' : ''}
  param[i] = p - step * uniforms.learningRate;
  m[i] = newM;
  v[i] = newV;
  ${sharedCount ? 'if (i == 0u) { tOut[0] = count; }' : 't[i] = count;'}
}`;
}

/** Inputs param, grad, m, v, t (and mask); outputs the new param, m, v and t, as the native kernel's. */
export function adamStep(params: KernelParams): TensorInfo[] {
  const backend = params.backend as unknown as WebgpuBackend;
  const inputs = params.inputs as Record<string, TensorInfo | undefined>;
  const [param, grad, m, v, t] = float32Inputs(ADAM_STEP_KERNEL, inputs, ['param', 'grad', 'm', 'v', 't']) as [TensorInfo, TensorInfo, TensorInfo, TensorInfo, TensorInfo];
  const mask = inputs.mask === undefined ? undefined : (float32Inputs(ADAM_STEP_KERNEL, inputs, ['mask'])[0] as TensorInfo);
  const size = tf.util.sizeFromShape(param.shape);
  const sharedCount = mask === undefined && tf.util.sizeFromShape(t.shape) === 1 && size !== 1;
  for (const x of [grad, m, v, ...(sharedCount ? [] : [t]), ...(mask === undefined ? [] : [mask])]) {
    if (tf.util.sizeFromShape(x.shape) !== size) throw new Error(`${ADAM_STEP_KERNEL}: every input needs the shape [${param.shape}], got [${x.shape}]`);
  }
  const updated = sharedCount ? [param, m, v] : [param, m, v, t];
  const all = [param, grad, m, v, t, ...(mask === undefined ? [] : [mask])];
  const inPlace = new Set(all.map((x) => x.dataId)).size === all.length && updated.every((x) => backend.refCount(x.dataId) === 1);
  const [outParam, outM, outV, outT = make(backend, [...t.shape])] = updated.map((x) => writable(backend, x, inPlace)) as [TensorInfo, TensorInfo, TensorInfo, TensorInfo?];
  if (size === 0) return [outParam, outM, outV, outT];
  const attrs = params.attrs as unknown as AdamSettings & { learningRate: number };
  const decay = attrs.weightDecay > 0 ? (attrs.decoupled ? 'decoupled' : 'l2') : 'none';
  const lnBeta = (beta: number) => Math.log(Math.fround(beta));
  run(backend, {
    key: `ct-adam-${mask !== undefined}-${sharedCount}-${decay}`,
    body: body(mask !== undefined, sharedCount, decay),
    bindings: [
      { name: 'param', tensor: outParam, write: true },
      { name: 'm', tensor: outM, write: true },
      { name: 'v', tensor: outV, write: true },
      sharedCount ? { name: 't', tensor: t } : { name: 't', tensor: outT, write: true },
      { name: 'grad', tensor: grad },
      ...(sharedCount ? [{ name: 'tOut', tensor: outT, write: true }] : []),
      ...(mask === undefined ? [] : [{ name: 'mask', tensor: mask }]),
    ],
    uniforms: [
      { name: 'size', type: 'uint32', data: [size] },
      { name: 'learningRate', type: 'float32', data: [attrs.learningRate] },
      { name: 'beta1', type: 'float32', data: [attrs.beta1] },
      { name: 'beta2', type: 'float32', data: [attrs.beta2] },
      { name: 'lnBeta1', type: 'float32', data: [lnBeta(attrs.beta1)] },
      { name: 'lnBeta2', type: 'float32', data: [lnBeta(attrs.beta2)] },
      { name: 'epsilon', type: 'float32', data: [attrs.epsilon] },
      { name: 'weightDecay', type: 'float32', data: [attrs.weightDecay] },
    ],
    workgroups: groupsFor(size, WORKGROUP),
  });
  return [outParam, outM, outV, outT];
}
