import { ContractError } from '@circuit-tuning/contracts';
import { opFixesFor } from '../backend/fixes';
import { tf } from '../backend/tf';

/**
 * Matrix products that stay on tfjs-backend-wasm's fast path.
 *
 * wasm sends only untransposed, unbatched matmuls to XNNPACK; a transposeA/transposeB or batched
 * matmul runs in a scalar loop 10–20× slower (docs/runtime.md §3; measured in §10). tf.matMul's own
 * gradient uses exactly those transposed forms, so on wasm (and cpu) the gradient here transposes
 * explicitly and multiplies untransposed. Other backends get tf.matMul unchanged.
 *
 * Who disposes: every function returns a new tensor the caller owns; intermediates are tidied.
 */

/**
 * [m, k] × [k, n] → [m, n] as its own kernel, so that its gradient can be lazy: tfjs calls a
 * registered gradient's thunk only for the inputs the requested gradients depend on, so a pass
 * that differentiates w.r.t. activations only (EAP's probes) never computes weight gradients, and
 * each thunk's transposes are freed as soon as it returns (tf.customGrad computes every input's
 * gradient up front and keeps its intermediates until the whole backward pass ends: for GPT-2
 * small, a transposed copy of every weight plus XNNPACK's packed copy of each).
 * The kernel runs the backend's own BatchMatMul kernel (looked up per call, so a BatchMatMul
 * registered later, e.g. a native one, is used); the gradient is dA = dY·Bᵀ and dB = Aᵀ·dY as
 * untransposed products.
 */
const FAST_PATH_MATMUL = 'CircuitTuningMatMul';
/**
 * The same product when `b` is a tf.Variable (a weight): the variable travels in the attributes
 * instead of the tape's saved tensors. The tape saves a tensor by cloning it, and the stock wasm
 * Identity kernel copies the data (the runtime's shared-identity fix shares it instead; other
 * backends and the fix's absence still copy), so saving weights would copy every weight matrix on
 * each taped forward pass (500 MB for GPT-2 small). A variable outlives the pass, and an update
 * replaces its data rather than changing it, so reading it in the backward pass gives the
 * forward's values.
 */
const FAST_PATH_MATMUL_VARIABLE_B = 'CircuitTuningMatMulVariableB';

function registerFastPathMatMul(backendName: string): void {
  registerWeightProductGradients(FAST_PATH_MATMUL, FAST_PATH_MATMUL_VARIABLE_B, ['a', 'b'], (d, a, b) => ({
    a: () => runFastPathMatMul(d, tf.transpose(b)), // [m, k]
    b: () => runFastPathMatMul(tf.transpose(a), d), // [k, n]
  }));
  if (tf.getKernel(FAST_PATH_MATMUL, backendName)) return;
  for (const kernelName of [FAST_PATH_MATMUL, FAST_PATH_MATMUL_VARIABLE_B]) {
    tf.registerKernel({
      kernelName,
      backendName,
      kernelFunc: ({ inputs, backend }) => {
        const batchMatMulKernel = tf.getKernel('BatchMatMul', backendName);
        if (!batchMatMulKernel) throw new Error(`no BatchMatMul kernel on backend ${backendName}`);
        const attrs = { transposeA: false, transposeB: false };
        return batchMatMulKernel.kernelFunc({ inputs: { a: inputs['a']!, b: inputs['b']! }, backend, attrs: attrs as never });
      },
    });
  }
}

function runFastPathMatMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  registerFastPathMatMul(tf.getBackend());
  const inputs = { a, b } as unknown as tf.NamedTensorMap;
  if (b instanceof tf.Variable) return tf.engine().runKernel(FAST_PATH_MATMUL_VARIABLE_B, inputs, { variable: b } as never) as tf.Tensor2D;
  return tf.engine().runKernel(FAST_PATH_MATMUL, inputs) as tf.Tensor2D;
}

/** A 2-D product through the fast path of the active backend. */
function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return opFixesFor(tf.getBackend()).has('transposed-matmul-grad') ? runFastPathMatMul(a, b) : tf.matMul(a, b);
}

/**
 * `a` [..., k] × `b` [k, n] → [..., n]: the leading axes of `a` are flattened into the rows of
 * one 2-D matmul (e.g. activations [batch, pos, dModel] × weights [dModel, dOut]).
 */
export function matMul(a: tf.Tensor, b: tf.Tensor2D): tf.Tensor {
  const k = a.shape[a.rank - 1];
  if (a.rank < 1 || b.rank !== 2 || k !== b.shape[0]) {
    throw new ContractError(`matMul: cannot multiply [${a.shape}] by [${b.shape}]`, {
      hint: 'a is [..., k] and b is [k, n]',
    });
  }
  if (a.rank === 2) return matMul2d(a as tf.Tensor2D, b);
  return tf.tidy(() => {
    const rows = a.reshape([-1, k]) as tf.Tensor2D; // [prod(leading), k]
    return matMul2d(rows, b).reshape([...a.shape.slice(0, -1), b.shape[1]]); // [..., n]
  });
}

/**
 * Batched product: `a` [...batch, m, k] × `b` [...batch, k, n] → [...batch, m, n], or with
 * `transposeB`, `b` [...batch, n, k] (e.g. attention scores q·kᵀ), and with `transposeA`, `a`
 * [...batch, k, m] (e.g. a gradient Pᵀ·dZ). The batch axes of a and b must be equal (no
 * broadcasting).
 *
 * On wasm the batch is unstacked into one 2-D matmul per entry (cheap with the slice-view
 * kernels) and stacked again; elsewhere (and with the native kernels, which take transposes as
 * they come) it is one batched tf.matMul.
 */
export function batchMatMul(a: tf.Tensor, b: tf.Tensor, transposeB = false, transposeA = false): tf.Tensor {
  checkBatchShapes(a, b, transposeB, transposeA);
  const [m, k] = (transposeA ? a.shape.slice(-2).reverse() : a.shape.slice(-2)) as [number, number];
  const n = b.shape[b.rank - (transposeB ? 2 : 1)] ?? 0;
  // Splitting pays only when each product is big enough for XNNPACK to beat the per-call cost:
  // measured on wasm (2 threads), the break-even is about m·k·n = 2^20 (e.g. 128×64 · 64×128).
  const splitPays = m * k * n >= SPLIT_MIN_WORK;
  if (!splitPays || !opFixesFor(tf.getBackend()).has('split-batch-matmul')) return tf.matMul(a, b, transposeA, transposeB);
  const batch = a.shape.slice(0, -2);
  return tf.tidy(() => {
    let a3 = a.reshape([-1, ...a.shape.slice(-2)]) as tf.Tensor3D; // [B, m, k] or [B, k, m]
    let b3 = b.reshape([-1, ...b.shape.slice(-2)]) as tf.Tensor3D; // [B, k, n] or [B, n, k]
    if (transposeA) a3 = tf.transpose(a3, [0, 2, 1]); // [B, m, k]: one transpose for the batch
    if (transposeB) b3 = tf.transpose(b3, [0, 2, 1]); // [B, k, n]
    const as = tf.unstack(a3) as tf.Tensor2D[]; // B × [m, k]
    const bs = tf.unstack(b3) as tf.Tensor2D[]; // B × [k, n]
    const outs = as.map((ai, i) => matMul2d(ai, bs[i] as tf.Tensor2D)); // B × [m, n]
    return tf.stack(outs).reshape([...batch, m, n]); // [...batch, m, n]
  });
}

/** Per-product work (m·k·n) from which one 2-D matmul per batch entry beats the batched kernel on wasm. */
export const SPLIT_MIN_WORK = 2 ** 20;

function checkBatchShapes(a: tf.Tensor, b: tf.Tensor, transposeB: boolean, transposeA: boolean): void {
  const fail = (why: string) =>
    new ContractError(`batchMatMul: cannot multiply [${a.shape}]${transposeA ? 'ᵀ' : ''} by [${b.shape}]${transposeB ? 'ᵀ' : ''}: ${why}`, {
      hint: `a is [...batch, ${transposeA ? 'k, m' : 'm, k'}], b is [...batch, ${transposeB ? 'n, k' : 'k, n'}]`,
    });
  if (a.rank < 3 || a.rank !== b.rank) throw fail('both need the same rank, at least 3');
  if (a.shape.slice(0, -2).some((d, i) => d !== b.shape[i])) throw fail('batch axes differ');
  const kA = a.shape[a.rank - (transposeA ? 2 : 1)];
  const kB = b.shape[b.rank - (transposeB ? 1 : 2)];
  if (kA !== kB) throw fail('inner sizes differ');
}

/**
 * Registers the gradients of a two-input product kernel and of its twin whose second input (a
 * weight) is a tf.Variable carried in the attributes (`variable`) instead of the tape: saving
 * clones, and wasm's clone copies every weight on each taped pass. A variable's data is replaced,
 * never changed, by an update, so reading it in the backward pass gives the forward's values.
 * `thunks` returns one lazy gradient per input, computed only when a requested gradient needs it.
 */
export function registerWeightProductGradients(
  kernelName: string,
  variableKernelName: string,
  inputNames: readonly [string, string],
  thunks: (dy: tf.Tensor2D, x: tf.Tensor2D, weight: tf.Tensor2D) => Record<string, () => tf.Tensor>,
): void {
  if (tf.getGradient(kernelName)) return;
  tf.registerGradient({
    kernelName,
    inputsToSave: [...inputNames],
    gradFunc: (dy, saved) => thunks(dy as tf.Tensor2D, saved[0] as tf.Tensor2D, saved[1] as tf.Tensor2D),
  });
  tf.registerGradient({
    kernelName: variableKernelName,
    inputsToSave: [inputNames[0]],
    gradFunc: (dy, saved, attrs) => thunks(dy as tf.Tensor2D, saved[0] as tf.Tensor2D, (attrs as unknown as { variable: tf.Tensor2D }).variable),
  });
}
