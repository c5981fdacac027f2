import { matMul, opFixesFor, registerWeightProductGradients, tf } from '@circuit-tuning/runtime';

/**
 * Logits from the final residual and an unembedding stored as [vocab, dModel] (GPT-2's tied
 * W_E, Llama's lm_head): x [tokens, dModel] · Wᵀ → [tokens, vocab].
 *
 * On backends whose fast matmul path is untransposed only (wasm, cpu: the runtime's
 * 'transposed-matmul-grad' fix), transposing the [vocab, dModel] matrix on every forward pass and
 * again in the backward pass cost GPT-2 small about 1.1 s per step (two [768, 50257] transposes,
 * 25 % of a step at 1 × 32 tokens). Here the transposed matrix is cached per weights version (a
 * tf.Variable gets a new dataId on every assign, so an update invalidates the entry), and the
 * backward pass needs no transposed weight at all:
 *   dx = dY · W          (W untransposed)
 *   dW = dYᵀ · x         (one transpose of dY, computed only when W's gradient is asked for)
 * It runs as its own kernel with a registered gradient, so each input's gradient is computed only
 * when a requested gradient depends on it: a frozen or untaped unembedding costs nothing extra.
 * Elsewhere it is tf.matMul with transposeB, whose own gradient is lazy too.
 *
 * The cache holds one [dModel, vocab] tensor per live unembedding (and XNNPACK's packed copy of
 * it); `releaseTransposedUnembeddings` frees entries whose source tensor is disposed.
 */
export function unembedProduct(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const backendName = tf.getBackend();
  if (!opFixesFor(backendName).has('transposed-matmul-grad')) return tf.matMul(x, w, false, true);
  register(backendName);
  transposedOf(w);
  const inputs = { x, w } as unknown as tf.NamedTensorMap;
  if (w instanceof tf.Variable) return tf.engine().runKernel(UNEMBED_VARIABLE_KERNEL, inputs, { variable: w } as never) as tf.Tensor2D;
  return tf.engine().runKernel(UNEMBED_KERNEL, inputs) as tf.Tensor2D;
}

/** Frees cached transposes whose source is disposed (ModelParameters.dispose calls it). */
export function releaseTransposedUnembeddings(): void {
  for (const [id, entry] of cache) {
    if (entry.source.isDisposed || entry.source.dataId !== entry.dataId) {
      entry.transposed.dispose();
      byDataId.delete(entry.dataId);
      cache.delete(id);
    }
  }
}

const UNEMBED_KERNEL = 'CircuitTuningUnembed';
const UNEMBED_VARIABLE_KERNEL = 'CircuitTuningUnembedVariable';

interface CacheEntry {
  source: tf.Tensor;
  /** The source's dataId when the transpose was made. */
  dataId: object;
  transposed: tf.Tensor2D; // [dModel, vocab]
}

/** By source tensor id. */
const cache = new Map<number, CacheEntry>();
/** The same transposes by the source's dataId, for the kernel (which sees the input's data). */
const byDataId = new WeakMap<object, tf.Tensor2D>();

function transposedOf(w: tf.Tensor2D): tf.Tensor2D {
  const entry = cache.get(w.id);
  if (entry && entry.dataId === w.dataId && !entry.transposed.isDisposed) return entry.transposed;
  releaseTransposedUnembeddings();
  if (entry) {
    entry.transposed.dispose();
    byDataId.delete(entry.dataId);
  }
  // Kept out of any enclosing tidy; made outside a tape's reach (no gradient flows through it: the
  // kernel's gradient goes to w itself).
  const transposed = tf.keep(tf.tidy(() => tf.transpose(w))) as tf.Tensor2D;
  cache.set(w.id, { source: w, dataId: w.dataId as object, transposed });
  byDataId.set(w.dataId as object, transposed);
  return transposed;
}

function register(backendName: string): void {
  // dx = dY · W (W untransposed); dW = dYᵀ · x, computed only when W's gradient is asked for.
  registerWeightProductGradients(UNEMBED_KERNEL, UNEMBED_VARIABLE_KERNEL, ['x', 'w'], (d, x, w) => ({
    x: () => matMul(d, w), // [tokens, dModel]
    w: () => matMul(tf.transpose(d), x), // [vocab, dModel]
  }));
  if (tf.getKernel(UNEMBED_KERNEL, backendName)) return;
  for (const kernelName of [UNEMBED_KERNEL, UNEMBED_VARIABLE_KERNEL]) {
    tf.registerKernel({
      kernelName,
      backendName,
      kernelFunc: ({ inputs, backend }) => {
        const x = inputs['x']!;
        const transposed = byDataId.get(inputs['w']!.dataId as object);
        if (!transposed) throw new Error('unembedProduct: no cached transpose for this unembedding');
        const batchMatMulKernel = tf.getKernel('BatchMatMul', backendName);
        if (!batchMatMulKernel) throw new Error(`no BatchMatMul kernel on backend ${backendName}`);
        const attrs = { transposeA: false, transposeB: false };
        return batchMatMulKernel.kernelFunc({ inputs: { a: x, b: transposed }, backend, attrs: attrs as never });
      },
    });
  }
}
