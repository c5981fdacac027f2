import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ArtifactError, ContractError } from '@circuit-tuning/contracts';
import { tf } from '@circuit-tuning/runtime';
import { fromHuggingFaceConfig } from '../config/hf-config';
import type { ModelConfig } from '../config/model-config';
import { isFloatDType } from '../safetensors/dtypes';
import { openSafetensors, type SafetensorsTensor } from '../safetensors/index';
import { loadTokenizer, type Tokenizer } from '../tokenizers/index';
import { TransformerModel } from '../transformer/model';
import { type HfMapping, hfMappings, knownPrefixes } from './hf-layout';
import { listNames, locateWeightFiles, type WeightFiles } from './weights-files';

export { WEIGHTS_FILE } from './weights-files';
export const CONFIG_FILE = 'config.json';

export interface LoadModelOptions {
  /** 'required' (default): a missing tokenizer is an error. 'optional': load without one. */
  tokenizer?: 'required' | 'optional';
}

/** Reads config.json of a model directory into a ModelConfig. */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  const file = join(dir, CONFIG_FILE);
  const json = await readJsonFile(file);
  return fromHuggingFaceConfig(json, file);
}

/**
 * Loads a Hugging Face-layout model directory: config.json, the weights (model.safetensors, or
 * model.safetensors.index.json and its shards; F32/F16/BF16, with or without the `transformer.`
 * prefix) and the tokenizer files. The set of tensors must be exactly what config.json describes
 * (a tensor too many or too few is an error listing them) and every value finite; all of that is
 * checked from the headers before any tensor is read, except finiteness, checked as each is read.
 * Files are read one after another, tensor by tensor, so a sharded checkpoint is never in memory
 * whole outside the model's own parameters.
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<TransformerModel> {
  await requireDirectory(dir);
  const config = await readModelConfig(dir);
  const tokenizer = await loadOptionalTokenizer(dir, options.tokenizer ?? 'required');
  if (tokenizer && tokenizer.vocabSize > config.vocabSize) {
    throw new ContractError(
      `model/tokenizer mismatch in ${dir}: the tokenizer has ${tokenizer.vocabSize} tokens but config.json declares vocab_size ${config.vocabSize}`,
    );
  }
  const weights = await locateWeightFiles(dir);
  const plan = planTensors(weights, config);
  const values = await canonicalValues(weights, plan, config);
  try {
    return new TransformerModel(config, values, { tokenizer, source: dir });
  } finally {
    for (const t of values.values()) t.dispose();
  }
}

async function requireDirectory(dir: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return;
  } catch {
    throw new ArtifactError(dir, 'model directory does not exist');
  }
  throw new ArtifactError(dir, 'is not a directory (expected a model directory with config.json and model.safetensors)');
}

async function loadOptionalTokenizer(dir: string, mode: 'required' | 'optional'): Promise<Tokenizer | undefined> {
  try {
    return await loadTokenizer(dir);
  } catch (error) {
    if (mode === 'optional' && error instanceof ArtifactError && /no tokenizer/.test(error.message)) return undefined;
    throw error;
  }
}

export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ArtifactError(file, 'cannot be read', { cause: error, hint: (error as NodeJS.ErrnoException).code });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ArtifactError(file, `is not valid JSON: ${(error as Error).message}`);
  }
}

/** Which file tensors feed which canonical parameters, after checking names, shapes and dtypes. */
interface TensorPlan {
  prefix: string;
  /** A tied model's lm_head.weight, present in some files: it must equal the embedding. */
  tiedHead: string | undefined;
}

function planTensors(weights: WeightFiles, config: ModelConfig): TensorPlan {
  const mappings = hfMappings(config);
  const names = [...weights.tensors.keys()];
  const present = new Set(names);
  // The prefix under which most of the expected tensors are found ('' when none are).
  const prefix = knownPrefixes
    .map((p) => ({ p, found: mappings.filter((m) => present.has(nameInFile(p, m))).length }))
    .reduce((best, next) => (next.found > best.found ? next : best), { p: '', found: 0 }).p;
  const expected = new Set(mappings.map((m) => nameInFile(prefix, m)));
  const tiedHead = config.tieWordEmbeddings ? TIED_HEAD_NAMES.find((n) => present.has(n)) : undefined;
  const unexpected = names.filter((n) => !expected.has(n) && n !== tiedHead && !isIgnoredBuffer(n, prefix, config));
  if (unexpected.length > 0) {
    throw new ArtifactError(weights.listing, `holds ${unexpected.length} tensor(s) that config.json (${describe(config)}) does not account for: ${listNames(unexpected)}`, {
      hint: 'does config.json describe these weights? (layer count, tie_word_embeddings, attention_bias, model_type)',
    });
  }
  const missing = [...expected].filter((n) => !present.has(n));
  if (missing.length > 0) {
    throw new ArtifactError(weights.listing, `lacks ${missing.length} tensor(s) that config.json (${describe(config)}) needs: ${listNames(missing)}`, {
      hint: names.length > 0 ? `it has: ${listNames(names, 5)}` : 'it holds no tensors',
    });
  }
  for (const mapping of mappings) {
    const name = nameInFile(prefix, mapping);
    const { file, entry } = weights.tensors.get(name)!;
    if (!isFloatDType(entry.dtype)) throw new ArtifactError(file, `tensor '${name}' has integer dtype ${entry.dtype}, expected floats`);
    if (entry.shape.length !== mapping.hfShape.length || entry.shape.some((n, i) => n !== mapping.hfShape[i])) {
      throw new ArtifactError(file, `tensor '${name}' has shape [${entry.shape}] but config.json (${describe(config)}) needs [${mapping.hfShape}]`);
    }
  }
  return { prefix, tiedHead };
}

/** A tensor's name in the file: GPT2LMHeadModel prefixes the body with `transformer.` but not its lm_head. */
const nameInFile = (prefix: string, mapping: HfMapping): string => (mapping.hfName === 'lm_head.weight' ? mapping.hfName : prefix + mapping.hfName);

/** Names under which a tied model's unembedding is sometimes saved as well. */
const TIED_HEAD_NAMES = ['lm_head.weight'];

/**
 * Buffers that older transformers versions saved with the weights and that hold no parameters:
 * GPT-2's causal-mask `attn.bias` / `attn.masked_bias`, Llama's `rotary_emb.inv_freq` (recomputed
 * from rope_theta, as transformers does on load).
 */
function isIgnoredBuffer(name: string, prefix: string, config: ModelConfig): boolean {
  const layer = (match: RegExpExecArray | null) => match !== null && Number(match[1]) < config.nLayers;
  if (config.architecture === 'gpt2') return name.startsWith(prefix) && layer(/^h\.(\d+)\.attn\.(?:bias|masked_bias)$/.exec(name.slice(prefix.length)));
  return layer(/^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$/.exec(name));
}

/** Reads the planned tensors file by file, one tensor at a time, into canonical parameters. */
async function canonicalValues(weights: WeightFiles, plan: TensorPlan, config: ModelConfig): Promise<Map<string, tf.Tensor>> {
  const mappings = hfMappings(config);
  const byName = new Map<string, HfMapping[]>();
  for (const m of mappings) {
    const name = nameInFile(plan.prefix, m);
    byName.set(name, [...(byName.get(name) ?? []), m]);
  }
  const values = new Map<string, tf.Tensor>();
  try {
    for (const file of weights.files) {
      const names = [...byName.keys()].filter((n) => weights.tensors.get(n)!.file === file);
      const needsHead = plan.tiedHead !== undefined && weights.tensors.get(plan.tiedHead)!.file === file;
      if (names.length === 0 && !needsHead) continue;
      const reader = await openSafetensors(file);
      try {
        for (const name of names) {
          const data = finiteFloats(file, name, await reader.read(name));
          const source = tf.tensor(data, [...weights.tensors.get(name)!.entry.shape]);
          try {
            for (const m of byName.get(name)!) values.set(m.canonical, tf.tidy(() => applyTransform(source, m)));
          } finally {
            source.dispose();
          }
        }
      } finally {
        await reader.close();
      }
    }
    if (plan.tiedHead !== undefined) await checkTiedHead(weights, plan.tiedHead, values.get('embed.W_E')!);
  } catch (error) {
    tf.dispose([...values.values()]);
    throw error;
  }
  return values;
}

/** The tensor's values, or an error naming it when it is not floats or holds NaN or ±Inf. */
function finiteFloats(file: string, name: string, tensor: SafetensorsTensor): Float32Array {
  const data = tensor.data;
  if (!(data instanceof Float32Array)) throw new ArtifactError(file, `tensor '${name}' has integer dtype ${tensor.dtype}, expected floats`);
  let first = -1;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (first >= 0) {
    throw new ArtifactError(file, `tensor '${name}' holds ${data[first]} at index ${first} (${count} of ${data.length} values are NaN or infinite)`, {
      hint: 'the checkpoint is corrupt, or was saved after training diverged; use an earlier checkpoint.',
    });
  }
  return data;
}

/** A tied model's saved lm_head.weight is harmless only if it is the embedding. */
async function checkTiedHead(weights: WeightFiles, name: string, embedding: tf.Tensor): Promise<void> {
  const { file } = weights.tensors.get(name)!;
  const reader = await openSafetensors(file);
  try {
    const head = await reader.read(name);
    const embed = await embedding.data();
    const same = head.data.length === embed.length && head.data.every((v, i) => v === embed[i]);
    if (!same) {
      throw new ArtifactError(file, `tensor '${name}' differs from the embedding, but config.json says tie_word_embeddings: true`, {
        hint: 'set tie_word_embeddings to false to use this unembedding, or remove the tensor.',
      });
    }
  } finally {
    await reader.close();
  }
}

function applyTransform(source: tf.Tensor, mapping: HfMapping): tf.Tensor {
  const { transform } = mapping;
  if (transform.kind === 'copy') return tf.clone(source);
  if (transform.kind === 'transpose') return tf.transpose(source);
  const axis = source.rank - 1;
  return tf.split(source, transform.parts, axis)[transform.part]!;
}

const describe = (c: ModelConfig): string =>
  `${c.architecture}, ${c.nLayers} layers, ${c.nHeads} heads, d_model ${c.dModel}, vocab ${c.vocabSize}`;
