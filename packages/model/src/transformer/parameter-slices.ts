import {
  ContractError,
  type ParameterMappingConfig,
  parseNodeName,
  type QkvLetter,
  type ReaderNode,
  type WriterNode,
} from '@circuit-tuning/contracts';
import { tf } from '@circuit-tuning/runtime';
import { hasAttentionOutputBias, type ModelConfig } from '../config/model-config';
import { blockPrefix } from './parameter-names';
import type { ModelParameters } from './parameters';

/**
 * An exact block of one parameter: indices [start, start+size) along `axis`, all of the other
 * axis. Circuit-tuning updates exactly these (docs/method.md §4.1, step 2; the slices are listed in §1): a head writer owns its rows of
 * W_O; a head's q/k/v reader owns its columns of W_Q/W_K/W_V and their biases; an MLP owns its
 * matrices (or, with mlpHeadWidth, one fixed-width slice of the hidden units).
 */
export interface ParameterSlice {
  param: string;
  axis: number;
  start: number;
  size: number;
}

/**
 * The parameter slices a node owns. Names: `a3.h1` (the head as a writer: its W_O rows),
 * `a3.h1<q>` / `<k>` / `<v>` (the head's input projections), `a3.g1<k>` / `<v>` (kv group 1's k/v
 * projection, shared by its query heads), `m2` (a whole MLP), `m2.n5` (MLP
 * slice 5 of width mlpHeadWidth). `input` and `logits` own nothing: embeddings, norms and the
 * unembedding stay frozen unless a config says otherwise.
 */
export function parameterSlicesOf(config: ModelConfig, node: string): ParameterSlice[] {
  const { dHead, nHeads, nKvHeads, dMlp } = config;
  const qkv = /^a(\d+)\.h(\d+)<([qkv])>$/.exec(node);
  if (qkv) {
    const layer = checkLayer(config, Number(qkv[1]), node);
    const head = checkHead(config, Number(qkv[2]), node);
    const letter = qkv[3] as QkvLetter;
    // k and v heads are shared by a group of query heads under grouped-query attention.
    const slot = letter === 'q' ? head : Math.floor(head / (nHeads / nKvHeads));
    const upper = letter.toUpperCase();
    const slices: ParameterSlice[] = [{ param: `${blockPrefix(layer)}.attn.W_${upper}`, axis: 1, start: slot * dHead, size: dHead }];
    if (config.attentionBias) slices.push({ param: `${blockPrefix(layer)}.attn.b_${upper}`, axis: 0, start: slot * dHead, size: dHead });
    return slices;
  }
  const kv = /^a(\d+)\.g(\d+)<([kv])>$/.exec(node);
  if (kv) {
    // A kv group's k or v reader (a graph with k/v readers per kv group) owns exactly that group's
    // columns of W_K / W_V (and b_K / b_V): the columns every query head of the group reads.
    const layer = checkLayer(config, Number(kv[1]), node);
    const group = Number(kv[2]);
    if (group >= nKvHeads) throw new ContractError(`${node}: kv group ${group} does not exist (the model has ${nKvHeads} per layer)`);
    const upper = kv[3]!.toUpperCase();
    const slices: ParameterSlice[] = [{ param: `${blockPrefix(layer)}.attn.W_${upper}`, axis: 1, start: group * dHead, size: dHead }];
    if (config.attentionBias) slices.push({ param: `${blockPrefix(layer)}.attn.b_${upper}`, axis: 0, start: group * dHead, size: dHead });
    return slices;
  }
  const mlpSlice = /^m(\d+)\.n(\d+)$/.exec(node);
  if (mlpSlice) {
    const layer = checkLayer(config, Number(mlpSlice[1]), node);
    const width = config.mlpHeadWidth;
    if (!width) throw new ContractError(`${node}: this model has no MLP slices (mlpHeadWidth is not set)`);
    const index = Number(mlpSlice[2]);
    if (index * width >= dMlp) throw new ContractError(`${node}: MLP slice ${index} is beyond the ${dMlp} hidden units`);
    return mlpSlices(config, layer, index * width, Math.min(width, dMlp - index * width));
  }
  const parsed = parseNodeName(node);
  if (!parsed) throw new ContractError(`'${node}' is not a node name`, { hint: 'e.g. a3.h1, a3.h1<q>, m2, m2.n5, input, logits' });
  switch (parsed.kind) {
    case 'head': {
      const layer = checkLayer(config, parsed.layer, node);
      const head = checkHead(config, parsed.head, node);
      return [{ param: `${blockPrefix(layer)}.attn.W_O`, axis: 0, start: head * dHead, size: dHead }];
    }
    case 'mlp':
      return mlpSlices(config, checkLayer(config, parsed.layer, node), 0, dMlp);
    case 'kv':
      // A kv group is a reader only: its parameters are its `<k>` and `<v>` readers'.
      return [...parameterSlicesOf(config, `${node}<k>`), ...parameterSlicesOf(config, `${node}<v>`)];
    case 'input':
    case 'logits':
      return [];
  }
}

/** Which of an MLP's matrices a slice takes: its input side (W_in, W_gate, b_in), its output side (W_out, b_out), or both. */
type MlpPart = 'in' | 'out' | 'both';

function mlpSlices(config: ModelConfig, layer: number, start: number, size: number, part: MlpPart = 'both'): ParameterSlice[] {
  const p = `${blockPrefix(layer)}.mlp`;
  const slices: ParameterSlice[] = [];
  if (part !== 'out') {
    slices.push({ param: `${p}.W_in`, axis: 1, start, size });
    if (config.gatedMlp) slices.push({ param: `${p}.W_gate`, axis: 1, start, size });
    if (config.mlpBias) slices.push({ param: `${p}.b_in`, axis: 0, start, size });
  }
  if (part !== 'in') {
    slices.push({ param: `${p}.W_out`, axis: 0, start, size });
    // b_out belongs to the whole MLP: only a whole-MLP node owns it.
    if (config.mlpBias && start === 0 && size === config.dMlp) slices.push({ param: `${p}.b_out`, axis: 0, start: 0, size: config.dModel });
  }
  return slices;
}

/**
 * The slices a graph writer owns under a parameter mapping (docs/method.md §1, §4.1 step 2): a head its
 * W_O rows (and, with outputBias 'heads', its layer's whole b_O, shared by the layer's heads); an
 * MLP its output side (mlp 'reader-writer') or all of it (mlp 'whole'); an MLP head `m2.n5` its
 * rows of W_out; `input` nothing.
 */
export function writerSlicesOf(config: ModelConfig, writer: WriterNode, mapping: ParameterMappingConfig): ParameterSlice[] {
  switch (writer.kind) {
    case 'input':
      return [];
    case 'head': {
      const slices = parameterSlicesOf(config, writer.name);
      if (mapping.outputBias === 'heads' && hasAttentionOutputBias(config)) {
        slices.push({ param: `${blockPrefix(writer.layer)}.attn.b_O`, axis: 0, start: 0, size: config.dModel });
      }
      return slices;
    }
    case 'mlp':
      return mlpSlices(config, checkLayer(config, writer.layer, writer.name), ...mlpRange(config, writer, mapping), mapping.mlp === 'whole' ? 'both' : 'out');
  }
}

/**
 * The slices a graph reader owns under a parameter mapping: a head's q/k/v input its columns of
 * W_Q/W_K/W_V (a k/v group's columns under grouped-query attention) and their bias; a kv group's
 * k/v reader the same group columns of W_K/W_V; an MLP its
 * input side (mlp 'reader-writer': W_in, W_gate, b_in) or all of it (mlp 'whole'); an MLP head its
 * columns of W_in and W_gate and its entries of b_in; `logits` nothing.
 */
export function readerSlicesOf(config: ModelConfig, reader: ReaderNode, mapping: ParameterMappingConfig): ParameterSlice[] {
  switch (reader.kind) {
    case 'logits':
      return [];
    case 'head':
    case 'kv':
      return parameterSlicesOf(config, reader.name);
    case 'mlp':
      return mlpSlices(config, checkLayer(config, reader.layer, reader.name), ...mlpRange(config, reader, mapping), mapping.mlp === 'whole' ? 'both' : 'in');
  }
}

/** The hidden units [start, start + size) of an MLP node: all of them, or one MLP head's. */
function mlpRange(config: ModelConfig, node: { name: string; mlpHead?: number }, mapping: ParameterMappingConfig): [number, number] {
  if (node.mlpHead === undefined) return [0, config.dMlp];
  const width = mapping.mlpHeadWidth;
  if ((node.mlpHead + 1) * width > config.dMlp) {
    throw new ContractError(`${node.name}: MLP head ${node.mlpHead} of ${width} neurons is beyond the ${config.dMlp} hidden units`);
  }
  return [node.mlpHead * width, width];
}

function checkLayer(config: ModelConfig, layer: number, node: string): number {
  if (layer >= config.nLayers) throw new ContractError(`${node}: layer ${layer} does not exist (the model has ${config.nLayers})`);
  return layer;
}

function checkHead(config: ModelConfig, head: number, node: string): number {
  if (head >= config.nHeads) throw new ContractError(`${node}: head ${head} does not exist (the model has ${config.nHeads} per layer)`);
  return head;
}

/**
 * What counting slices needs of the parameters: their shapes (ModelParameters, or shapes alone,
 * so the slices of a GPT-2-small-sized model can be counted without allocating its weights).
 */
export interface ParameterShapes {
  get(name: string): { shape: number[] };
}

/** Number of scalars in a set of slices, counting overlapping slices once. */
export function sliceParameterCount(params: ParameterShapes, slices: readonly ParameterSlice[]): number {
  let total = 0;
  for (const mask of sliceAxisMasks(params, slices).values()) total += mask.count;
  return total;
}

/**
 * A 0/1 mask of the entries a set of slices owns in one parameter, kept along the axis the slices
 * cut: a slice takes whole rows or whole columns, so a matrix's mask is [rows, 1] or [1, cols]
 * (it broadcasts to the parameter) and costs a vector, not a copy of the parameter. Only slices
 * along both axes of one matrix (no mapping makes them today) give a full [rows, cols] mask.
 * Full-size masks were 3.7 GB of Llama-3.2-1B's circuit-tuning step (issue 13).
 */
export interface SliceMask {
  /** The mask's shape: the parameter's, with 1 along every axis the slices do not cut. */
  shape: number[];
  values: Uint8Array;
  /** Entries of the parameter the mask owns. */
  count: number;
}

/** The slices' masks, one per parameter they touch, in the compact form of {@link SliceMask}. */
export function sliceAxisMasks(params: ParameterShapes, slices: readonly ParameterSlice[]): Map<string, SliceMask> {
  const byParam = new Map<string, ParameterSlice[]>();
  for (const slice of slices) {
    const list = byParam.get(slice.param);
    if (list) list.push(slice);
    else byParam.set(slice.param, [slice]);
  }
  const masks = new Map<string, SliceMask>();
  for (const [name, list] of byParam) {
    const full = params.get(name).shape;
    const axes = new Set(list.map((s) => s.axis));
    const axis = full.length === 1 ? 0 : axes.size === 1 ? list[0]!.axis : undefined;
    const shape = axis === undefined ? full : full.map((n, a) => (a === axis ? n : 1));
    const values = new Uint8Array(shape.reduce((a, b) => a * b, 1));
    for (const slice of list) markSlice(values, shape, slice);
    let owned = 0;
    for (const v of values) owned += v;
    const size = full.reduce((a, b) => a * b, 1);
    masks.set(name, { shape, values, count: (owned * size) / values.length });
  }
  return masks;
}

/** 0/1 masks of the parameters the slices touch, entry by entry (the parameter's full shape). */
export function sliceMasks(params: ParameterShapes, slices: readonly ParameterSlice[]): Map<string, { shape: number[]; values: Uint8Array }> {
  const masks = new Map<string, { shape: number[]; values: Uint8Array }>();
  for (const [name, compact] of sliceAxisMasks(params, slices)) {
    const shape = params.get(name).shape;
    if (compact.values.length === shape.reduce((a, b) => a * b, 1)) {
      masks.set(name, { shape, values: compact.values });
      continue;
    }
    const [rows, cols] = shape as [number, number];
    const values = new Uint8Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) values[r * cols + c] = compact.values[compact.shape[0] === 1 ? c : r]!;
    masks.set(name, { shape, values });
  }
  return masks;
}

/** Marks a slice in a mask of `shape` (the parameter's, or its compact form with 1 along the uncut axis). */
function markSlice(values: Uint8Array, shape: number[], slice: ParameterSlice): void {
  if (shape.length === 1) {
    values.fill(1, slice.start, slice.start + slice.size);
    return;
  }
  const [rows, cols] = shape as [number, number];
  if (slice.axis === 0) values.fill(1, slice.start * cols, (slice.start + slice.size) * cols);
  else for (let r = 0; r < rows; r++) values.fill(1, r * cols + slice.start, r * cols + slice.start + slice.size);
}

/** Reads a slice as a new tensor (the caller disposes it). */
export function readSlice(params: ModelParameters, slice: ParameterSlice): tf.Tensor {
  const variable = params.get(slice.param);
  const begin = variable.shape.map((_, axis) => (axis === slice.axis ? slice.start : 0));
  const size = variable.shape.map((n, axis) => (axis === slice.axis ? slice.size : n));
  return tf.slice(variable, begin, size);
}

/** Overwrites a slice of a parameter in place, leaving the rest of it untouched. */
export function writeSlice(params: ModelParameters, slice: ParameterSlice, value: tf.Tensor): void {
  const variable = params.get(slice.param);
  const expected = variable.shape.map((n, axis) => (axis === slice.axis ? slice.size : n));
  if (value.shape.length !== expected.length || value.shape.some((n, i) => n !== expected[i])) {
    throw new ContractError(`slice of ${slice.param} has shape [${expected}], got [${value.shape}]`);
  }
  const updated = tf.tidy(() => {
    const before = slice.start;
    const after = variable.shape[slice.axis]! - slice.start - slice.size;
    const pieces: tf.Tensor[] = [];
    const sizeAlong = (n: number) => variable.shape.map((d, axis) => (axis === slice.axis ? n : d));
    const beginAt = (n: number) => variable.shape.map((_, axis) => (axis === slice.axis ? n : 0));
    if (before > 0) pieces.push(tf.slice(variable, beginAt(0), sizeAlong(before)));
    pieces.push(value);
    if (after > 0) pieces.push(tf.slice(variable, beginAt(slice.start + slice.size), sizeAlong(after)));
    return tf.concat(pieces, slice.axis);
  });
  variable.assign(updated);
  updated.dispose();
}
