import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { GELU_TANH_GRAD_KERNEL, GELU_TANH_KERNEL } from '../native-kernels';
import { tf } from '../tf';
import { float32Inputs, groupsFor, make, run, type WebgpuBackend } from './program';
import { MAIN_PARAMETERS } from './reduce';

/**
 * GPT-2's gelu_new and its gradient (ops/activation.ts), one elementwise dispatch each, with the
 * native kernels' formulas (packages/native/native/activation.c):
 *   y  = 0.5·x·(1 + tanh(u)),  u = √(2/π)·(x + 0.044715·x³)
 *   dx = dy·[0.5·(1 + tanh(u)) + 0.5·x·(1 − tanh²(u))·√(2/π)·(1 + 3·0.044715·x²)]
 * tanh(u) as 1 − 2/(e^{2u} + 1), as activation.c's ct_tanh: it saturates to ±1 where e^{2u}
 * overflows, where (e^{2u} − 1)/(e^{2u} + 1), which GLSL's tanh may compile to, gives NaN.
 */

type KernelParams = Parameters<KernelFunc>[0];

const WORKGROUP = 256;

const TANH = `
fn tanhOfGelu(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return 1.0 - 2.0 / (exp(2.0 * u) + 1.0);
}`;

function body(gradient: boolean): string {
  return `${TANH}
@compute @workgroup_size(${WORKGROUP})
fn main(${MAIN_PARAMETERS}) {
  let i = workgroupIndex(wid, nwg) * ${WORKGROUP}u + lid.x;
  if (i >= uniforms.size) { return; }
  let xi = x[i];
  let t = tanhOfGelu(xi);
  ${
    gradient
      ? `let du = 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * xi * xi);
  out[i] = dy[i] * (0.5 * (1.0 + t) + 0.5 * xi * (1.0 - t * t) * du);`
      : 'out[i] = 0.5 * xi * (1.0 + t);'
  }
}`;
}

function elementwise(kernel: string, names: readonly string[]): KernelFunc {
  const gradient = names.includes('dy');
  return (params: KernelParams) => {
    const backend = params.backend as unknown as WebgpuBackend;
    const inputs = float32Inputs(kernel, params.inputs as Record<string, TensorInfo | undefined>, names);
    const x = inputs[0] as TensorInfo;
    for (const other of inputs) {
      if (!tf.util.arraysEqual(other.shape, x.shape)) throw new Error(`${kernel}: x [${x.shape}] and dy [${other.shape}] differ`);
    }
    const out = make(backend, [...x.shape]);
    const size = tf.util.sizeFromShape(x.shape);
    run(backend, {
      key: `ct-gelu-${gradient}`,
      body: body(gradient),
      bindings: [...names.map((name, i) => ({ name, tensor: inputs[i] as TensorInfo })), { name: 'out', tensor: out, write: true }],
      uniforms: [{ name: 'size', type: 'uint32', data: [size] }],
      workgroups: groupsFor(size, WORKGROUP),
    });
    return out;
  };
}

/** gelu_new(x), elementwise. */
export const geluTanh = elementwise(GELU_TANH_KERNEL, ['x']);
/** dy · gelu_new'(x), elementwise. */
export const geluTanhGrad = elementwise(GELU_TANH_GRAD_KERNEL, ['x', 'dy']);
