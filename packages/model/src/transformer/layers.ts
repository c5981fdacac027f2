import { batchMatMul, fusedGeluTanh, fusedLayerNorm, fusedRmsNorm, maskedSoftmax, matMul, softmaxBackward, tf } from '@circuit-tuning/runtime';
import type { ModelConfig } from '../config/model-config';

type GradFunc = Parameters<typeof tf.customGrad>[0];
type Save = (tensors: tf.Tensor[]) => void;

/**
 * Normalisation over the last axis: LayerNorm (GPT-2) or RMSNorm (Llama). `bias` is absent for
 * RMSNorm. Works on any rank; x: [..., dModel].
 *
 * Both run under a custom gradient that keeps only the input on the tape and recomputes the
 * normalised values in the backward pass: the ops of the plain formula would keep 4–6 tensors of
 * x's size per call (centred, squared, normalised, scaled), which for GPT-2 small at 512 tokens,
 * or for the probed forward's [3·nHeads, tokens, dModel] reader inputs, decides whether a batch
 * fits in wasm's 4 GB heap.
 */
export function normalize(config: ModelConfig, x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor {
  // One native pass each way where the backend has it (native, or wasm with the native addon).
  if (config.norm === 'rmsnorm') return fusedRmsNorm(x, weight, config.normEps) ?? rmsNorm(config.normEps)(x, weight);
  const b = bias ?? tf.zerosLike(weight);
  return fusedLayerNorm(x, weight, b, config.normEps) ?? layerNorm(config.normEps)(x, weight, b);
}

/** Sums [..., d] over every axis but the last → [d]. */
const sumLeading = (t: tf.Tensor): tf.Tensor => tf.sum(tf.reshape(t, [-1, t.shape[t.rank - 1]!]), 0);

const layerNormByEps = new Map<number, (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor>();

/** LayerNorm: (x − mean) / √(var + eps) · w + b, over the last axis. */
function layerNorm(eps: number): (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor {
  let f = layerNormByEps.get(eps);
  if (f) return f;
  // [..., d] → normalised x̂ and 1/σ ([..., 1]); the same ops as tf.moments, so values match.
  const standardize = (x: tf.Tensor) => {
    const axis = x.rank - 1;
    const { mean, variance } = tf.moments(x, axis, true);
    const rstd = tf.rsqrt(tf.add(variance, eps)); // [..., 1]
    return { xhat: tf.mul(tf.sub(x, mean), rstd), rstd };
  };
  f = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: Save) => {
    save([x, w]);
    const { xhat } = standardize(x);
    return {
      value: tf.add(tf.mul(xhat, w), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sx, sw] = saved as [tf.Tensor, tf.Tensor];
          const axis = sx.rank - 1;
          const { xhat: xh, rstd } = standardize(sx);
          const g = tf.mul(dy, sw); // ∂L/∂x̂
          // dx = (g − mean(g) − x̂·mean(g·x̂)) / σ
          const dx = tf.mul(tf.sub(tf.sub(g, tf.mean(g, axis, true)), tf.mul(xh, tf.mean(tf.mul(g, xh), axis, true))), rstd);
          return [dx, sumLeading(tf.mul(dy, xh)), sumLeading(dy)];
        }),
    };
  }) as GradFunc) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;
  layerNormByEps.set(eps, f);
  return f;
}

const rmsNormByEps = new Map<number, (x: tf.Tensor, w: tf.Tensor) => tf.Tensor>();

/** RMSNorm: x / √(mean(x²) + eps) · w, over the last axis. */
function rmsNorm(eps: number): (x: tf.Tensor, w: tf.Tensor) => tf.Tensor {
  let f = rmsNormByEps.get(eps);
  if (f) return f;
  const inverseRms = (x: tf.Tensor) => tf.rsqrt(tf.add(tf.mean(tf.square(x), x.rank - 1, true), eps)); // [..., 1]
  f = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, save: Save) => {
    save([x, w]);
    return {
      value: tf.mul(tf.mul(x, inverseRms(x)), w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sx, sw] = saved as [tf.Tensor, tf.Tensor];
          const r = inverseRms(sx);
          const xh = tf.mul(sx, r);
          const g = tf.mul(dy, sw);
          // dx = (g − x̂·mean(g·x̂)) / rms
          const dx = tf.mul(tf.sub(g, tf.mul(xh, tf.mean(tf.mul(g, xh), sx.rank - 1, true))), r);
          return [dx, sumLeading(tf.mul(dy, xh))];
        }),
    };
  }) as GradFunc) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;
  rmsNormByEps.set(eps, f);
  return f;
}

/**
 * a + b with broadcasting (a bias [n], a residual, a probe over per-reader inputs). tf.add keeps
 * both inputs on the tape only to know their shapes, and a kept tensor is a copy on wasm (the tape
 * clones, and wasm's clone copies); this keeps nothing, so a matmul's output or a residual is freed
 * after the forward pass unless an op that needs its values keeps it.
 */
export function addUnsaved(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const aShape = a.shape;
  const bShape = b.shape;
  const add = tf.customGrad(((x: tf.Tensor, y: tf.Tensor) => ({
    value: tf.add(x, y),
    gradFunc: (dy: tf.Tensor) => tf.tidy(() => [reduceTo(dy, aShape), reduceTo(dy, bShape)]),
  })) as GradFunc) as (x: tf.Tensor, y: tf.Tensor) => tf.Tensor;
  return add(a, b);
}

/** Sums a broadcast gradient back to `shape` (the axes that broadcasting added or stretched). */
function reduceTo(dy: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const lead = dy.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < dy.rank; i++) if (i < lead || (shape[i - lead] === 1 && dy.shape[i] !== 1)) axes.push(i);
  return tf.reshape(axes.length > 0 ? tf.sum(dy, axes) : dy, shape as number[]);
}

/**
 * reshape → transpose → reshape, as attention's head split and merge use it, with a gradient that
 * keeps nothing (tf.reshape keeps its input on the tape, which here would be an extra copy of
 * q, k, v and z per layer): x [...] → [...inner] permuted by `perm` → [...out].
 */
export function permuteUnsaved(x: tf.Tensor, inner: number[], perm: number[], out: number[]): tf.Tensor {
  const xShape = x.shape;
  const permuted = perm.map((p) => inner[p]!);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  const op = tf.customGrad(((t: tf.Tensor) => ({
    value: tf.reshape(tf.transpose(tf.reshape(t, inner), perm), out),
    gradFunc: (dy: tf.Tensor) => tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(dy, permuted), inverse), xShape)),
  })) as GradFunc) as (t: tf.Tensor) => tf.Tensor;
  return op(x);
}

/**
 * tf.reshape whose gradient keeps nothing: tf.reshape keeps its input on the tape for its shape,
 * and on wasm a kept tensor is a copy (for GPT-2's logits, 98 MB per reshape at 512 tokens).
 */
export function reshapeUnsaved(x: tf.Tensor, shape: number[]): tf.Tensor {
  const xShape = x.shape;
  const op = tf.customGrad(((t: tf.Tensor) => ({
    value: tf.reshape(t, shape),
    gradFunc: (dy: tf.Tensor) => tf.reshape(dy, xShape),
  })) as GradFunc) as (t: tf.Tensor) => tf.Tensor;
  return op(x);
}

const sqrtTwoOverPi = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

/**
 * gelu_new, GPT-2's tanh approximation (Hendrycks & Gimpel 2016):
 *   0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³),
 * with a custom gradient that keeps only x (the composed ops would keep five [tokens, dMlp] tensors):
 *   d/dx = 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(u).
 */
const geluNew = tf.customGrad(((x: tf.Tensor, save: Save) => {
  save([x]);
  // x·x·x rather than tf.pow(x, 3): the same values as the composed ops had.
  const tanhOf = (t: tf.Tensor) => tf.tanh(tf.mul(tf.add(t, tf.mul(tf.mul(tf.mul(t, t), t), GELU_CUBIC)), sqrtTwoOverPi));
  return {
    value: tf.mul(tf.mul(x, 0.5), tf.add(tanhOf(x), 1)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [sx] = saved as [tf.Tensor];
        const t = tanhOf(sx);
        const du = tf.mul(tf.add(tf.mul(tf.square(sx), 3 * GELU_CUBIC), 1), sqrtTwoOverPi); // du/dx
        const slope = tf.add(tf.mul(tf.add(t, 1), 0.5), tf.mul(tf.mul(tf.mul(sx, 0.5), tf.sub(1, tf.square(t))), du));
        return [tf.mul(dy, slope)];
      }),
  };
}) as GradFunc) as (x: tf.Tensor) => tf.Tensor;

/** The MLP's non-linearity. */
export function activate(config: ModelConfig, x: tf.Tensor): tf.Tensor {
  switch (config.activation) {
    case 'gelu_new':
      // One native pass each way where the backend has it (wasm with the native addon).
      return fusedGeluTanh(x) ?? geluNew(x);
    case 'gelu':
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
    case 'relu':
      return tf.relu(x);
    case 'silu':
      return tf.mul(x, tf.sigmoid(x));
  }
}

/**
 * Rotary position embedding in Hugging Face's convention (rotate_half over the two halves of a
 * head's dimensions, as in transformers' LlamaRotaryEmbedding). Returns cos and sin tables of
 * [seq, dHead] and the fixed matrix R with x·R = rotate_half(x): a matMul instead of slices, fast
 * on wasm and with a plain gradient.
 */
export interface RotaryTables {
  cos: tf.Tensor2D; // [seq, dHead]
  sin: tf.Tensor2D; // [seq, dHead]
  rotateHalf: tf.Tensor2D; // [dHead, dHead]
}

export function rotaryTables(config: ModelConfig, seqLen: number): RotaryTables {
  const dHead = config.dHead;
  const half = dHead / 2;
  const inverseFrequencies = rotaryFrequencies(config, seqLen);
  const cos = new Float32Array(seqLen * dHead);
  const sin = new Float32Array(seqLen * dHead);
  for (let pos = 0; pos < seqLen; pos++) {
    for (let i = 0; i < half; i++) {
      const angle = pos * inverseFrequencies[i]!;
      for (const j of [i, i + half]) {
        cos[pos * dHead + j] = Math.cos(angle);
        sin[pos * dHead + j] = Math.sin(angle);
      }
    }
  }
  // rotate_half([x1, x2]) = [-x2, x1]: column j < half takes -x[j + half]; column j ≥ half takes x[j - half].
  const rotate = new Float32Array(dHead * dHead);
  for (let j = 0; j < half; j++) {
    rotate[(j + half) * dHead + j] = -1;
    rotate[j * dHead + (j + half)] = 1;
  }
  return {
    cos: tf.tensor2d(cos, [seqLen, dHead]),
    sin: tf.tensor2d(sin, [seqLen, dHead]),
    rotateHalf: tf.tensor2d(rotate, [dHead, dHead]),
  };
}

/**
 * The inverse frequencies θ_i = base^(−2i/dHead), i < dHead/2, with the config's rope scaling
 * applied as transformers' modeling_rope_utils.py defines each type:
 * - linear: θ_i / factor (the same as dividing positions by factor);
 * - dynamic (NTK): for a sequence longer than maxPositions, the base becomes
 *   base · (factor·seq/maxPositions − (factor − 1))^(dHead/(dHead − 2)); shorter ones are unscaled;
 * - llama3: with wavelength λ_i = 2π/θ_i and L = originalMaxPositions, λ_i > L/lowFreqFactor gives
 *   θ_i / factor, λ_i < L/highFreqFactor keeps θ_i, and between them
 *   (1 − s)·θ_i/factor + s·θ_i with s = (L/λ_i − lowFreqFactor) / (highFreqFactor − lowFreqFactor).
 */
export function rotaryFrequencies(config: ModelConfig, seqLen: number): Float64Array {
  const { dHead, ropeScaling: scaling, maxPositions } = config;
  let base = config.ropeTheta;
  if (scaling?.type === 'dynamic' && seqLen > maxPositions) {
    base *= (scaling.factor * seqLen / maxPositions - (scaling.factor - 1)) ** (dHead / (dHead - 2));
  }
  const out = new Float64Array(dHead / 2);
  for (let i = 0; i < out.length; i++) {
    const theta = 1 / base ** ((2 * i) / dHead);
    if (scaling?.type === 'linear') out[i] = theta / scaling.factor;
    else if (scaling?.type === 'llama3') {
      const { factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositions: original } = scaling;
      const wavelength = (2 * Math.PI) / theta;
      if (wavelength < original / high) out[i] = theta;
      else if (wavelength > original / low) out[i] = theta / factor;
      else {
        const smooth = (original / wavelength - low) / (high - low);
        out[i] = ((1 - smooth) * theta) / factor + smooth * theta;
      }
    } else out[i] = theta;
  }
  return out;
}

/** Applies the rotation to x: [batch·heads, seq, dHead]. */
export function applyRotary(x: tf.Tensor3D, tables: RotaryTables): tf.Tensor3D {
  const [bh, seq, dHead] = x.shape;
  const rotated = matMul(tf.reshape(x, [bh * seq, dHead]), tables.rotateHalf).reshape([bh, seq, dHead]);
  return tf.add(tf.mul(x, tables.cos), tf.mul(rotated, tables.sin)) as tf.Tensor3D;
}

/**
 * Scaled dot-product attention of every (batch, head) pair: softmax(q·kᵀ·scale + mask)·v, with
 * q, k, v [batch·heads, seq, dHead] and an additive mask [seq, seq]. A custom gradient keeps q, k,
 * v and the pattern only, and frees its backward intermediates per call (as composed ops, the raw
 * scores and every intermediate gradient stayed alive until the end of the backward pass):
 *   dV = Pᵀ·dZ,  dP = dZ·Vᵀ,  dS = P ⊙ (dP − Σ_j dP ⊙ P),  dQ = dS·K·scale,  dK = dSᵀ·Q·scale.
 */
export function attentionCore(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, mask: tf.Tensor2D, scale: number): tf.Tensor3D {
  const core = tf.customGrad(((sq: tf.Tensor3D, sk: tf.Tensor3D, sv: tf.Tensor3D, save: Save) => {
    const pattern = maskedSoftmax(batchMatMul(sq, sk, true), mask, scale) as tf.Tensor3D; // [BH, seq, seq]
    save([sq, sk, sv, pattern]);
    return {
      value: batchMatMul(pattern, sv) as tf.Tensor3D, // [BH, seq, dHead]
      gradFunc: (dz: tf.Tensor3D, saved: tf.Tensor[]) =>
        tf.tidy(() => {
            const [q0, k0, v0, p] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
            const dv = batchMatMul(p, dz, false, true); // Pᵀ·dZ [BH, seq, dHead]
            const dp = batchMatMul(dz, v0, true); // [BH, seq, seq]
            const ds = softmaxBackward(p, dp, scale) as tf.Tensor3D; // scaled dS
            const dq = batchMatMul(ds, k0); // [BH, seq, dHead]
            const dk = batchMatMul(ds, q0, false, true); // dSᵀ·Q [BH, seq, dHead]
            return [dq, dk, dv];
        }),
    };
  }) as GradFunc) as (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D) => tf.Tensor3D;
  return core(q, k, v);
}

/**
 * Additive causal mask [seq, seq]: 0 where query i may see key j, a large negative elsewhere. Keys
 * after the query are hidden; with a sliding `window` so are keys at j ≤ i − window (Mistral's
 * window as transformers masks it: a token sees itself and the window − 1 before it).
 */
export function causalMask(seqLen: number, window?: number): tf.Tensor2D {
  const values = new Float32Array(seqLen * seqLen);
  for (let i = 0; i < seqLen; i++) {
    for (let j = 0; j < seqLen; j++) if (j > i || (window !== undefined && j <= i - window)) values[i * seqLen + j] = -1e9;
  }
  return tf.tensor2d(values, [seqLen, seqLen]);
}
