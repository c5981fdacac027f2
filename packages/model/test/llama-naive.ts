/**
 * Test support: Llama-family checkpoints written in Hugging Face's own layout (torch Linear
 * orientation, separate q/k/v projections, grouped k/v heads), and a naive loop implementation of
 * transformers' LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM forward pass that reads
 * those tensors and config.json keys directly, with rotary scaling as modeling_rope_utils.py
 * computes it. It shares no code with src/: our loader and transformer must agree with it.
 */
import { createRng } from '@circuit-tuning/runtime';

export interface HfLlamaConfig {
  model_type: 'llama' | 'mistral' | 'qwen2';
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  hidden_size: number;
  intermediate_size: number;
  vocab_size: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  tie_word_embeddings: boolean;
  head_dim?: number;
  attention_bias?: boolean;
  rope_scaling?: Record<string, unknown> | null;
  sliding_window?: number | null;
  [key: string]: unknown;
}

export type Weights = Map<string, { shape: number[]; data: Float32Array }>;

export const baseLlama: HfLlamaConfig = {
  model_type: 'llama',
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  hidden_size: 16,
  intermediate_size: 24,
  vocab_size: 30,
  max_position_embeddings: 32,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
};

const headDim = (hf: HfLlamaConfig) => hf.head_dim ?? hf.hidden_size / hf.num_attention_heads;
/** Which projections carry biases, per transformers class. */
const qkvBias = (hf: HfLlamaConfig) => hf.model_type === 'qwen2' || (hf.model_type === 'llama' && hf.attention_bias === true);
const oBias = (hf: HfLlamaConfig) => hf.model_type === 'llama' && hf.attention_bias === true;

/** Random weights with exactly the tensors transformers saves for this config. */
export function randomWeights(hf: HfLlamaConfig, seed = 7): Weights {
  const rng = createRng(seed);
  const w: Weights = new Map();
  const add = (name: string, shape: number[], scale = 0.3, offset = 0) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = offset + rng.normal(0, scale);
    w.set(name, { shape, data });
  };
  const { hidden_size: d, intermediate_size: f, vocab_size: v, num_attention_heads: h, num_key_value_heads: kv } = hf;
  const dh = headDim(hf);
  add('model.embed_tokens.weight', [v, d], 1);
  for (let l = 0; l < hf.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [d], 0.1, 1);
    add(`${p}.self_attn.q_proj.weight`, [h * dh, d]);
    add(`${p}.self_attn.k_proj.weight`, [kv * dh, d]);
    add(`${p}.self_attn.v_proj.weight`, [kv * dh, d]);
    if (qkvBias(hf)) {
      add(`${p}.self_attn.q_proj.bias`, [h * dh]);
      add(`${p}.self_attn.k_proj.bias`, [kv * dh]);
      add(`${p}.self_attn.v_proj.bias`, [kv * dh]);
    }
    add(`${p}.self_attn.o_proj.weight`, [d, h * dh]);
    if (oBias(hf)) add(`${p}.self_attn.o_proj.bias`, [d]);
    add(`${p}.post_attention_layernorm.weight`, [d], 0.1, 1);
    add(`${p}.mlp.gate_proj.weight`, [f, d]);
    add(`${p}.mlp.up_proj.weight`, [f, d]);
    add(`${p}.mlp.down_proj.weight`, [d, f]);
  }
  add('model.norm.weight', [d], 0.1, 1);
  if (!hf.tie_word_embeddings) add('lm_head.weight', [v, d]);
  return w;
}

/** y = W x (+ b) for a torch Linear weight W [out, in]. */
function linear(w: { shape: number[]; data: Float32Array }, x: number[], b?: { data: Float32Array }): number[] {
  const [out, inp] = w.shape as [number, number];
  const y = new Array<number>(out).fill(0);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inp; i++) y[o]! += w.data[o * inp + i]! * x[i]!;
    if (b) y[o]! += b.data[o]!;
  }
  return y;
}

function rmsNorm(x: number[], weight: Float32Array, eps: number): number[] {
  const ms = x.reduce((a, b) => a + b * b, 0) / x.length;
  const r = 1 / Math.sqrt(ms + eps);
  return x.map((v, i) => v * r * weight[i]!);
}

/**
 * inv_freq as transformers' _compute_default_rope_parameters and the linear / dynamic / llama3
 * variants compute it, for a forward pass over `seqLen` tokens of a freshly loaded model.
 */
export function naiveInverseFrequencies(hf: HfLlamaConfig, seqLen: number): number[] {
  const dim = headDim(hf);
  const scaling = hf.rope_scaling ?? undefined;
  const type = scaling ? (scaling['rope_type'] ?? scaling['type']) : 'default';
  let base = hf.rope_theta;
  if (type === 'dynamic') {
    const factor = scaling!['factor'] as number;
    const max = hf.max_position_embeddings;
    const len = Math.max(seqLen, max);
    base = base * ((factor * len) / max - (factor - 1)) ** (dim / (dim - 2));
  }
  const inv: number[] = [];
  for (let i = 0; i < dim; i += 2) inv.push(1 / base ** (i / dim));
  if (type === 'linear') return inv.map((x) => x / (scaling!['factor'] as number));
  if (type === 'llama3') {
    const factor = scaling!['factor'] as number;
    const low = scaling!['low_freq_factor'] as number;
    const high = scaling!['high_freq_factor'] as number;
    const old = scaling!['original_max_position_embeddings'] as number;
    const lowWavelen = old / low;
    const highWavelen = old / high;
    return inv.map((f) => {
      const wavelen = (2 * Math.PI) / f;
      const scaled = wavelen > lowWavelen ? f / factor : f;
      const smooth = (old / wavelen - low) / (high - low);
      const medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
      return medium ? ((1 - smooth) * scaled) / factor + smooth * scaled : scaled;
    });
  }
  return inv;
}

function rope(vec: number[], pos: number, inv: number[]): number[] {
  const half = vec.length / 2;
  return vec.map((v, i) => {
    const angle = pos * inv[i % half]!;
    const rotated = i < half ? -vec[i + half]! : vec[i - half]!;
    return v * Math.cos(angle) + rotated * Math.sin(angle);
  });
}

/** The attention window transformers applies (Mistral's sliding_window, default 4096; none for Llama). */
function windowOf(hf: HfLlamaConfig): number {
  if (hf.model_type !== 'mistral') return Number.POSITIVE_INFINITY;
  const w = hf.sliding_window === undefined ? 4096 : hf.sliding_window;
  return w ?? Number.POSITIVE_INFINITY;
}

/** Logits [seq][vocab] of the Hugging Face forward pass, naively. */
export function naiveLogits(hf: HfLlamaConfig, w: Weights, ids: number[]): number[][] {
  const get = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`no weight ${n}`);
    return t;
  };
  const opt = (n: string) => w.get(n);
  const d = hf.hidden_size;
  const dh = headDim(hf);
  const eps = hf.rms_norm_eps;
  const group = hf.num_attention_heads / hf.num_key_value_heads;
  const inv = naiveInverseFrequencies(hf, ids.length);
  const window = windowOf(hf);
  let h = ids.map((id) => Array.from(get('model.embed_tokens.weight').data.subarray(id * d, (id + 1) * d)));
  for (let l = 0; l < hf.num_hidden_layers; l++) {
    const p = `model.layers.${l}.self_attn`;
    const x = h.map((row) => rmsNorm(row, get(`model.layers.${l}.input_layernorm.weight`).data, eps));
    const q = x.map((row) => linear(get(`${p}.q_proj.weight`), row, qkvBias(hf) ? get(`${p}.q_proj.bias`) : undefined));
    const k = x.map((row) => linear(get(`${p}.k_proj.weight`), row, qkvBias(hf) ? get(`${p}.k_proj.bias`) : undefined));
    const v = x.map((row) => linear(get(`${p}.v_proj.weight`), row, qkvBias(hf) ? get(`${p}.v_proj.bias`) : undefined));
    const attnOut = h.map(() => new Array<number>(hf.num_attention_heads * dh).fill(0));
    for (let head = 0; head < hf.num_attention_heads; head++) {
      const kvHead = Math.floor(head / group);
      for (let t = 0; t < ids.length; t++) {
        const qt = rope(q[t]!.slice(head * dh, (head + 1) * dh), t, inv);
        const visible: number[] = [];
        for (let s = 0; s <= t; s++) if (s > t - window) visible.push(s);
        const scores = visible.map((s) => {
          const ks = rope(k[s]!.slice(kvHead * dh, (kvHead + 1) * dh), s, inv);
          return qt.reduce((a, b, i) => a + b * ks[i]!, 0) / Math.sqrt(dh);
        });
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        visible.forEach((s, j) => {
          for (let i = 0; i < dh; i++) attnOut[t]![head * dh + i]! += (e[j]! / z) * v[s]![kvHead * dh + i]!;
        });
      }
    }
    h = h.map((row, t) => {
      const o = linear(get(`${p}.o_proj.weight`), attnOut[t]!, oBias(hf) ? get(`${p}.o_proj.bias`) : undefined);
      return row.map((val, i) => val + o[i]!);
    });
    const m = `model.layers.${l}`;
    h = h.map((row) => {
      const xn = rmsNorm(row, get(`${m}.post_attention_layernorm.weight`).data, eps);
      const gate = linear(get(`${m}.mlp.gate_proj.weight`), xn);
      const up = linear(get(`${m}.mlp.up_proj.weight`), xn);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
      const down = linear(get(`${m}.mlp.down_proj.weight`), act);
      return row.map((val, i) => val + down[i]!);
    });
  }
  const head = hf.tie_word_embeddings ? get('model.embed_tokens.weight') : (opt('lm_head.weight') ?? get('lm_head.weight'));
  return h.map((row) => linear(head, rmsNorm(row, get('model.norm.weight').data, eps)));
}
