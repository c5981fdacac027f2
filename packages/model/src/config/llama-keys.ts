import { ArtifactError } from '@circuit-tuning/contracts';
import type { RopeScaling } from './model-config';

/**
 * The Llama-family config.json keys whose meaning goes beyond a plain number: rotary scaling,
 * sliding windows, which projections have biases, and keys we refuse. Each follows what
 * transformers' LlamaConfig / MistralConfig / Qwen2Config and their modeling code do with the key
 * (defaults included), so that a checkpoint computes here what it computes there, or fails naming
 * the key and the file.
 */

type LlamaFamily = 'llama' | 'mistral' | 'qwen2';
type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The rope types transformers defines that are implemented here (layers.ts, rotaryFrequencies). */
const IMPLEMENTED_ROPE_TYPES = ['default', 'linear', 'dynamic', 'llama3'];

/**
 * Keys transformers reads for these model types (through getattr, so for all three) that this
 * project does not implement. Everything else a config may hold is either honoured or inert at
 * inference: pretraining_tp only splits the same products, attention_dropout and the *_token_id,
 * use_cache, initializer_range, torch_dtype keys do not change a forward pass.
 */
export function refuseUnimplementedKeys(raw: Json, file: string): void {
  const partial = raw['partial_rotary_factor'];
  if (partial != null && partial !== 1) {
    throw new ArtifactError(file, `partial_rotary_factor ${JSON.stringify(partial)} is not implemented (rotary embeddings here rotate the whole head)`);
  }
}

/** num_key_value_heads when the key is absent: each class's own default (null means "as many as heads"). */
export function defaultKvHeads(family: LlamaFamily, heads: number, keyPresent: boolean): number {
  if (keyPresent) return heads;
  return family === 'mistral' ? 8 : family === 'qwen2' ? 32 : heads;
}

/**
 * Which projections have biases: Llama's attention_bias puts one on q, k, v and o; Qwen2 always has
 * q/k/v biases and none on o_proj; Mistral has none (MistralConfig has neither bias key).
 */
export function llamaBiases(
  family: LlamaFamily,
  attentionBias: boolean,
  mlpBias: boolean,
  file: string,
): { attentionBias: boolean; attentionOutputBias?: boolean; mlpBias: boolean } {
  if (family === 'qwen2') return { attentionBias: true, attentionOutputBias: false, mlpBias: false };
  if (family === 'mistral') return { attentionBias: false, mlpBias: false };
  if (mlpBias) throw new ArtifactError(file, 'mlp_bias: true is not supported (its gate projection bias has no canonical parameter)');
  return { attentionBias, mlpBias: false };
}

/**
 * rope_theta and the rotary scaling, from `rope_scaling` (transformers 4.x: `rope_type`, or the
 * older `type`) or `rope_parameters` (transformers 5: the same keys plus `rope_theta`).
 */
export function llamaRope(raw: Json, file: string): { ropeTheta: number; ropeScaling?: RopeScaling } {
  const parameters = raw['rope_parameters'];
  const scaling = raw['rope_scaling'];
  let theta = positiveNumber(raw['rope_theta'] ?? 10_000, 'rope_theta', file);
  let parsed: RopeScaling | undefined;
  if (parameters != null) {
    if (!isObject(parameters)) throw new ArtifactError(file, `rope_parameters must be an object, got ${JSON.stringify(parameters)}`);
    if (!('rope_type' in parameters) && !('rope_theta' in parameters)) {
      throw new ArtifactError(file, `rope_parameters per layer type (${Object.keys(parameters).join(', ')}) is not implemented`);
    }
    if (parameters['rope_theta'] != null) theta = positiveNumber(parameters['rope_theta'], 'rope_parameters.rope_theta', file);
    parsed = ropeScaling(parameters, 'rope_parameters', file);
    if (scaling != null && JSON.stringify(ropeScaling(scaling, 'rope_scaling', file)) !== JSON.stringify(parsed)) {
      throw new ArtifactError(file, 'rope_scaling and rope_parameters disagree; keep one of them');
    }
  } else if (scaling != null) {
    parsed = ropeScaling(scaling, 'rope_scaling', file);
  }
  return parsed ? { ropeTheta: theta, ropeScaling: parsed } : { ropeTheta: theta };
}

function ropeScaling(value: unknown, key: string, file: string): RopeScaling | undefined {
  if (!isObject(value)) throw new ArtifactError(file, `${key} must be an object or null, got ${JSON.stringify(value)}`);
  const type = value['rope_type'] ?? value['type'];
  if (type === undefined) throw new ArtifactError(file, `${key} has no rope_type`, { hint: `implemented: ${IMPLEMENTED_ROPE_TYPES.join(', ')}` });
  const partial = value['partial_rotary_factor'];
  if (partial != null && partial !== 1) {
    throw new ArtifactError(file, `${key}.partial_rotary_factor ${JSON.stringify(partial)} is not implemented (rotary embeddings here rotate the whole head)`);
  }
  const number = (name: string) => positiveNumber(value[name], `${key}.${name}`, file, `rope_type "${String(type)}"`);
  switch (type) {
    case 'default':
      return undefined;
    case 'linear':
    case 'dynamic':
      return { type: type as 'linear' | 'dynamic', factor: number('factor') };
    case 'llama3': {
      const original = number('original_max_position_embeddings');
      if (!Number.isInteger(original)) throw new ArtifactError(file, `${key}.original_max_position_embeddings must be an integer, got ${original}`);
      return {
        type: 'llama3',
        factor: number('factor'),
        lowFreqFactor: number('low_freq_factor'),
        highFreqFactor: number('high_freq_factor'),
        originalMaxPositions: original,
      };
    }
    default:
      throw new ArtifactError(file, `${key}.rope_type ${JSON.stringify(type)} is not implemented`, {
        hint: `implemented: ${IMPLEMENTED_ROPE_TYPES.join(', ')}`,
      });
  }
}

function positiveNumber(value: unknown, key: string, file: string, context?: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  throw new ArtifactError(file, `${key} must be a positive number${context ? ` for ${context}` : ''}, got ${JSON.stringify(value) ?? 'nothing'}`);
}

/** The config.json form of a rotary scaling (transformers 4.x `rope_scaling`). */
export function toHfRope(scaling: RopeScaling): Record<string, unknown> {
  if (scaling.type !== 'llama3') return { rope_type: scaling.type, factor: scaling.factor };
  return {
    rope_type: 'llama3',
    factor: scaling.factor,
    low_freq_factor: scaling.lowFreqFactor,
    high_freq_factor: scaling.highFreqFactor,
    original_max_position_embeddings: scaling.originalMaxPositions,
  };
}

/**
 * The attention window, when every layer has one. Mistral: `sliding_window` on every layer
 * (MistralConfig's default is 4096; null turns it off; Llama reads no window). Qwen2: only with
 * `use_sliding_window`, on layers from `max_window_layers` on, or as `layer_types` says. A window
 * on some layers only is refused (one mask serves every layer here).
 */
export function llamaSlidingWindow(raw: Json, family: LlamaFamily, nLayers: number, file: string): number | undefined {
  if (family === 'llama') return undefined;
  const windowOf = (value: unknown) => {
    if (value === null) return undefined;
    if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
    throw new ArtifactError(file, `sliding_window must be a positive integer or null, got ${JSON.stringify(value)}`);
  };
  if (family === 'mistral') return windowOf(raw['sliding_window'] === undefined ? 4096 : raw['sliding_window']);

  const use = raw['use_sliding_window'] ?? false;
  if (typeof use !== 'boolean') throw new ArtifactError(file, `use_sliding_window must be true or false, got ${JSON.stringify(use)}`);
  const window = use ? windowOf(raw['sliding_window'] === undefined ? 4096 : raw['sliding_window']) : undefined;
  let sliding: boolean[];
  const layerTypes = raw['layer_types'];
  if (layerTypes != null) {
    if (!Array.isArray(layerTypes) || layerTypes.length !== nLayers || !layerTypes.every((t) => t === 'full_attention' || t === 'sliding_attention')) {
      throw new ArtifactError(file, `layer_types must list 'full_attention' or 'sliding_attention' for each of the ${nLayers} layers`);
    }
    sliding = layerTypes.map((t) => t === 'sliding_attention');
  } else {
    const first = raw['max_window_layers'] ?? 28;
    if (typeof first !== 'number' || !Number.isInteger(first)) throw new ArtifactError(file, `max_window_layers must be an integer, got ${JSON.stringify(first)}`);
    sliding = Array.from({ length: nLayers }, (_, layer) => window !== undefined && layer >= first);
  }
  if (sliding.every((s) => !s)) return undefined;
  if (window === undefined) throw new ArtifactError(file, 'layer_types asks for sliding_attention but use_sliding_window is off (no window size)');
  if (!sliding.every((s) => s)) {
    throw new ArtifactError(file, `a sliding window on only some layers (use_sliding_window with max_window_layers / layer_types) is not implemented`, {
      hint: 'a window on every layer (max_window_layers: 0) or none is.',
    });
  }
  return window;
}
