import { ArtifactError, ContractError } from '@circuit-tuning/contracts';
import { z } from 'zod';
import { defaultKvHeads, llamaBiases, llamaRope, llamaSlidingWindow, refuseUnimplementedKeys, toHfRope } from './llama-keys';
import { gpt2Config, hasAttentionOutputBias, llamaConfig, type ModelConfig } from './model-config';

/** The keys of a Hugging Face GPT-2 config.json that we read (others are kept but ignored). */
const hfGpt2Schema = z.looseObject({
  model_type: z.literal('gpt2'),
  n_layer: z.number().int().positive(),
  n_head: z.number().int().positive(),
  n_embd: z.number().int().positive(),
  n_inner: z.number().int().positive().nullish(),
  vocab_size: z.number().int().positive(),
  n_positions: z.number().int().positive(),
  layer_norm_epsilon: z.number().positive().default(1e-5),
  activation_function: z.enum(['gelu_new', 'gelu', 'relu']).default('gelu_new'),
  tie_word_embeddings: z.boolean().default(true),
  bos_token_id: z.number().int().nonnegative().nullish(),
  eos_token_id: z.number().int().nonnegative().nullish(),
});

/**
 * The keys of a Llama-family config.json (LlamaConfig, MistralConfig, Qwen2Config in transformers)
 * that change the computation; each is honoured here or refused in llama-keys.ts. Keys those
 * classes do not read are ignored, as transformers ignores them.
 */
const hfLlamaSchema = z.looseObject({
  model_type: z.enum(['llama', 'mistral', 'qwen2']),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  num_key_value_heads: z.number().int().positive().nullish(),
  hidden_size: z.number().int().positive(),
  head_dim: z.number().int().positive().nullish(),
  intermediate_size: z.number().int().positive(),
  vocab_size: z.number().int().positive(),
  max_position_embeddings: z.number().int().positive(),
  rms_norm_eps: z.number().positive().default(1e-6),
  hidden_act: z.literal('silu').default('silu'),
  tie_word_embeddings: z.boolean().default(false),
  attention_bias: z.boolean().default(false),
  mlp_bias: z.boolean().default(false),
  bos_token_id: z.number().int().nonnegative().nullish(),
  eos_token_id: z.union([z.number().int().nonnegative(), z.array(z.number().int())]).nullish(),
});

/** Token ids that Hugging Face writes as null when absent, as optional fields. */
function optionalIds(bos: number | null | undefined, eos: number | null | undefined): { bosTokenId?: number; eosTokenId?: number } {
  return { ...(bos == null ? {} : { bosTokenId: bos }), ...(eos == null ? {} : { eosTokenId: eos }) };
}

/** Translates a parsed config.json into a ModelConfig; `file` is named in every error. */
export function fromHuggingFaceConfig(json: unknown, file: string): ModelConfig {
  const modelType = (json as { model_type?: unknown } | null)?.model_type;
  const issueText = (error: z.ZodError) =>
    error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  if (isRecordWith(json, 'quantization_config')) {
    throw new ArtifactError(file, 'quantization_config: quantized checkpoints are not supported', {
      hint: 'dequantize the checkpoint to F32, F16 or BF16 first.',
    });
  }
  if (modelType === 'gpt2') {
    const parsed = hfGpt2Schema.safeParse(json);
    if (!parsed.success) throw new ArtifactError(file, `not a valid GPT-2 config: ${issueText(parsed.error)}`);
    const c = parsed.data;
    if (c.n_embd % c.n_head !== 0) throw new ArtifactError(file, `n_embd ${c.n_embd} is not divisible by n_head ${c.n_head}`);
    refuseUnimplementedGpt2Keys(json as Record<string, unknown>, file);
    return gpt2Config({
      nLayers: c.n_layer,
      nHeads: c.n_head,
      dModel: c.n_embd,
      dMlp: c.n_inner ?? 4 * c.n_embd,
      vocabSize: c.vocab_size,
      maxPositions: c.n_positions,
      normEps: c.layer_norm_epsilon,
      activation: c.activation_function,
      tieWordEmbeddings: c.tie_word_embeddings,
      ...optionalIds(c.bos_token_id, c.eos_token_id),
    });
  }
  if (modelType === 'llama' || modelType === 'mistral' || modelType === 'qwen2') {
    const parsed = hfLlamaSchema.safeParse(json);
    if (!parsed.success) throw new ArtifactError(file, `not a valid Llama-family config: ${issueText(parsed.error)}`);
    const c = parsed.data;
    const raw = json as Record<string, unknown>;
    refuseUnimplementedKeys(raw, file);
    const nKvHeads = c.num_key_value_heads ?? defaultKvHeads(c.model_type, c.num_attention_heads, 'num_key_value_heads' in raw);
    if (c.num_attention_heads % nKvHeads !== 0) {
      throw new ArtifactError(file, `num_attention_heads ${c.num_attention_heads} is not a multiple of num_key_value_heads ${nKvHeads}`);
    }
    if (c.head_dim == null && c.hidden_size % c.num_attention_heads !== 0) {
      throw new ArtifactError(file, `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads} (and there is no head_dim)`);
    }
    const dHead = c.head_dim ?? c.hidden_size / c.num_attention_heads;
    if (dHead % 2 !== 0) throw new ArtifactError(file, `head_dim ${dHead} is odd; rotary embeddings rotate pairs of dimensions`);
    const biases = llamaBiases(c.model_type, c.attention_bias, c.mlp_bias, file);
    const eos = Array.isArray(c.eos_token_id) ? c.eos_token_id[0] : c.eos_token_id;
    const slidingWindow = llamaSlidingWindow(raw, c.model_type, c.num_hidden_layers, file);
    return llamaConfig({
      nLayers: c.num_hidden_layers,
      nHeads: c.num_attention_heads,
      nKvHeads,
      dModel: c.hidden_size,
      dHead,
      dMlp: c.intermediate_size,
      vocabSize: c.vocab_size,
      maxPositions: c.max_position_embeddings,
      normEps: c.rms_norm_eps,
      ...llamaRope(raw, file),
      ...(slidingWindow === undefined ? {} : { slidingWindow }),
      tieWordEmbeddings: c.tie_word_embeddings,
      ...biases,
      ...optionalIds(c.bos_token_id, eos),
    });
  }
  throw new ArtifactError(file, `unsupported model_type ${JSON.stringify(modelType)}`, {
    hint: 'supported: gpt2, and the Llama family (llama, mistral, qwen2)',
  });
}

/** The config.json we write, in Hugging Face's own keys, so Python tools load our checkpoints. */
export function toHuggingFaceConfig(config: ModelConfig): Record<string, unknown> {
  if (config.architecture === 'gpt2') {
    return {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      n_layer: config.nLayers,
      n_head: config.nHeads,
      n_embd: config.dModel,
      n_inner: config.dMlp,
      n_positions: config.maxPositions,
      n_ctx: config.maxPositions,
      vocab_size: config.vocabSize,
      layer_norm_epsilon: config.normEps,
      activation_function: config.activation,
      tie_word_embeddings: config.tieWordEmbeddings,
      resid_pdrop: 0,
      embd_pdrop: 0,
      attn_pdrop: 0,
      bos_token_id: config.bosTokenId ?? null,
      eos_token_id: config.eosTokenId ?? null,
      torch_dtype: 'float32',
    };
  }
  const family = llamaFamilyOf(config);
  return {
    architectures: [family === 'qwen2' ? 'Qwen2ForCausalLM' : family === 'mistral' ? 'MistralForCausalLM' : 'LlamaForCausalLM'],
    model_type: family,
    num_hidden_layers: config.nLayers,
    num_attention_heads: config.nHeads,
    num_key_value_heads: config.nKvHeads,
    hidden_size: config.dModel,
    head_dim: config.dHead,
    intermediate_size: config.dMlp,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.maxPositions,
    rms_norm_eps: config.normEps,
    rope_theta: config.ropeTheta,
    rope_scaling: config.ropeScaling ? toHfRope(config.ropeScaling) : null,
    hidden_act: 'silu',
    tie_word_embeddings: config.tieWordEmbeddings,
    ...(family === 'llama' ? { attention_bias: config.attentionBias, mlp_bias: config.mlpBias } : {}),
    ...(family === 'mistral' ? { sliding_window: config.slidingWindow ?? null } : {}),
    ...(family === 'qwen2'
      ? { use_sliding_window: config.slidingWindow !== undefined, sliding_window: config.slidingWindow ?? null, max_window_layers: 0 }
      : {}),
    bos_token_id: config.bosTokenId ?? null,
    eos_token_id: config.eosTokenId ?? null,
    torch_dtype: 'float32',
  };
}

/**
 * Which transformers class computes what this config describes: Llama has q/k/v/o biases or none
 * and no window; Qwen2 has q/k/v biases without o_proj's (and an optional window on every layer);
 * Mistral has a window and no biases.
 */
function llamaFamilyOf(config: ModelConfig): 'llama' | 'mistral' | 'qwen2' {
  const outputBias = hasAttentionOutputBias(config);
  if (config.attentionBias && !outputBias && !config.mlpBias) return 'qwen2';
  if (config.attentionBias !== outputBias) {
    throw new ContractError('no Hugging Face Llama-family class has this combination of attention biases (q/k/v and o_proj) and MLP biases');
  }
  if (config.slidingWindow === undefined) return 'llama';
  if (!config.attentionBias && !config.mlpBias) return 'mistral';
  throw new ContractError('no Hugging Face Llama-family class has a sliding window together with Llama-style biases');
}

/**
 * GPT2Config keys that change what GPT2LMHeadModel computes and that this forward pass does not
 * implement (transformers' modeling_gpt2.py reads them in its attention); each is refused by name
 * rather than silently giving other logits. `reorder_and_upcast_attn` changes only the precision.
 */
function refuseUnimplementedGpt2Keys(raw: Record<string, unknown>, file: string): void {
  if (raw['scale_attn_weights'] === false) {
    throw new ArtifactError(file, 'scale_attn_weights: false is not implemented (attention scores here are always divided by √d_head)');
  }
  if (raw['scale_attn_by_inverse_layer_idx'] === true) {
    throw new ArtifactError(file, 'scale_attn_by_inverse_layer_idx: true is not implemented (attention scores here are not divided by the layer index)');
  }
}

function isRecordWith(json: unknown, key: string): boolean {
  return typeof json === 'object' && json !== null && (json as Record<string, unknown>)[key] != null;
}
