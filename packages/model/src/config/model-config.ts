import { z } from 'zod';

/**
 * How rotary frequencies are rescaled for long contexts, as Hugging Face transformers defines each
 * type (modeling_rope_utils.py): `linear` divides every frequency (so positions) by `factor`;
 * `dynamic` (NTK) raises the base when a sequence is longer than `maxPositions`; `llama3` divides
 * low frequencies by `factor`, keeps high ones, and interpolates between them.
 */
export const ropeScalingSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('linear'), factor: z.number().positive() }),
  z.strictObject({ type: z.literal('dynamic'), factor: z.number().positive() }),
  z.strictObject({
    type: z.literal('llama3'),
    factor: z.number().positive(),
    lowFreqFactor: z.number().positive(),
    highFreqFactor: z.number().positive(),
    originalMaxPositions: z.number().int().positive(),
  }),
]);
export type RopeScaling = z.infer<typeof ropeScalingSchema>;

/**
 * The architecture-neutral description the transformer is built from. Hugging Face config.json
 * files (GPT-2, Llama) are translated into this at the file boundary (hf-config.ts), so the rest
 * of the code asks "which norm?", never "which model_type?".
 */
export const modelConfigSchema = z
  .object({
    architecture: z.enum(['gpt2', 'llama']),
    nLayers: z.number().int().positive(),
    nHeads: z.number().int().positive(),
    /** Key/value heads (grouped-query attention); equals nHeads without grouping. */
    nKvHeads: z.number().int().positive(),
    dModel: z.number().int().positive(),
    dHead: z.number().int().positive(),
    dMlp: z.number().int().positive(),
    vocabSize: z.number().int().positive(),
    maxPositions: z.number().int().positive(),
    norm: z.enum(['layernorm', 'rmsnorm']),
    normEps: z.number().positive(),
    positions: z.enum(['learned', 'rotary']),
    ropeTheta: z.number().positive().default(10_000),
    ropeScaling: ropeScalingSchema.optional(),
    /** Mistral's sliding window: a token attends to itself and the window − 1 tokens before it. */
    slidingWindow: z.number().int().positive().optional(),
    /** gelu_new is GPT-2's tanh approximation; silu with a gate is Llama's SwiGLU. */
    activation: z.enum(['gelu_new', 'gelu', 'relu', 'silu']),
    gatedMlp: z.boolean(),
    /** Biases of the q, k and v projections (and of the output projection, unless attentionOutputBias says otherwise). */
    attentionBias: z.boolean(),
    /** The output projection's bias when it differs from attentionBias (Qwen2: q/k/v biases, none on o_proj). */
    attentionOutputBias: z.boolean().optional(),
    mlpBias: z.boolean(),
    tieWordEmbeddings: z.boolean(),
    bosTokenId: z.number().int().nonnegative().optional(),
    eosTokenId: z.number().int().nonnegative().optional(),
    /** Width of the fixed MLP slices ("MLP heads") Llama circuit-tuning may update on their own. */
    mlpHeadWidth: z.number().int().positive().optional(),
  })
  .strict()
  .refine((c) => c.nHeads % c.nKvHeads === 0, { message: 'nHeads must be a multiple of nKvHeads' });

export type ModelConfig = z.infer<typeof modelConfigSchema>;
export type ModelConfigInput = z.input<typeof modelConfigSchema>;

/** Whether attention's output projection has a bias (b_O). */
export const hasAttentionOutputBias = (config: ModelConfig): boolean => config.attentionOutputBias ?? config.attentionBias;

/** A GPT-2 config with the usual derived sizes filled in (dHead = dModel / nHeads, dMlp = 4 dModel). */
export function gpt2Config(options: {
  nLayers: number;
  nHeads: number;
  dModel: number;
  vocabSize: number;
  maxPositions: number;
  dMlp?: number;
  normEps?: number;
  activation?: 'gelu_new' | 'gelu' | 'relu';
  tieWordEmbeddings?: boolean;
  bosTokenId?: number;
  eosTokenId?: number;
}): ModelConfig {
  return modelConfigSchema.parse({
    architecture: 'gpt2',
    nLayers: options.nLayers,
    nHeads: options.nHeads,
    nKvHeads: options.nHeads,
    dModel: options.dModel,
    dHead: options.dModel / options.nHeads,
    dMlp: options.dMlp ?? 4 * options.dModel,
    vocabSize: options.vocabSize,
    maxPositions: options.maxPositions,
    norm: 'layernorm',
    normEps: options.normEps ?? 1e-5,
    positions: 'learned',
    activation: options.activation ?? 'gelu_new',
    gatedMlp: false,
    attentionBias: true,
    mlpBias: true,
    tieWordEmbeddings: options.tieWordEmbeddings ?? true,
    bosTokenId: options.bosTokenId,
    eosTokenId: options.eosTokenId,
  });
}

/** A Llama-family config (RMSNorm, rotary positions, SwiGLU, grouped-query attention, no biases by default). */
export function llamaConfig(options: {
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  dModel: number;
  dMlp: number;
  vocabSize: number;
  maxPositions: number;
  dHead?: number;
  normEps?: number;
  ropeTheta?: number;
  ropeScaling?: RopeScaling;
  slidingWindow?: number;
  tieWordEmbeddings?: boolean;
  attentionBias?: boolean;
  attentionOutputBias?: boolean;
  mlpBias?: boolean;
  mlpHeadWidth?: number;
  bosTokenId?: number;
  eosTokenId?: number;
}): ModelConfig {
  return modelConfigSchema.parse({
    architecture: 'llama',
    nLayers: options.nLayers,
    nHeads: options.nHeads,
    nKvHeads: options.nKvHeads,
    dModel: options.dModel,
    dHead: options.dHead ?? options.dModel / options.nHeads,
    dMlp: options.dMlp,
    vocabSize: options.vocabSize,
    maxPositions: options.maxPositions,
    norm: 'rmsnorm',
    normEps: options.normEps ?? 1e-5,
    positions: 'rotary',
    ropeTheta: options.ropeTheta ?? 10_000,
    ropeScaling: options.ropeScaling,
    slidingWindow: options.slidingWindow,
    activation: 'silu',
    gatedMlp: true,
    attentionBias: options.attentionBias ?? false,
    attentionOutputBias: options.attentionOutputBias,
    mlpBias: options.mlpBias ?? false,
    tieWordEmbeddings: options.tieWordEmbeddings ?? false,
    mlpHeadWidth: options.mlpHeadWidth ?? 64,
    bosTokenId: options.bosTokenId,
    eosTokenId: options.eosTokenId,
  });
}
