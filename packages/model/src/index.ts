// Configs
export {
  fromHuggingFaceConfig,
  gpt2Config,
  llamaConfig,
  type ModelConfig,
  modelConfigSchema,
  type RopeScaling,
  toHuggingFaceConfig,
} from './config/index';
// Checkpoints in the Hugging Face layout
export { CONFIG_FILE, type LoadModelOptions, loadModel, readModelConfig, WEIGHTS_FILE } from './checkpoint/load';
export { DEFAULT_MAX_SHARD_SIZE, type SaveModelOptions, saveModel } from './checkpoint/save';
export { type RandomCheckpointOptions, writeRandomCheckpoint } from './checkpoint/random-checkpoint';
// The node-decomposed transformer
export type { CircuitRun, ForwardOptions, ForwardResult, ParameterSource } from './transformer/forward';
export { argMax, type GenerateOptions, generate, topKIndices } from './transformer/generate';
export { TransformerModel } from './transformer/model';
export { attentionReaderIndices, attentionReaderSlot, disposeWriters, type ReaderProbes, type WriterOutputs } from './transformer/node-tensors';
export { type ParameterSpec, parameterSpecs } from './transformer/parameter-names';
export {
  type ParameterShapes,
  type ParameterSlice,
  parameterSlicesOf,
  readerSlicesOf,
  readSlice,
  sliceAxisMasks,
  type SliceMask,
  sliceMasks,
  sliceParameterCount,
  writeSlice,
  writerSlicesOf,
} from './transformer/parameter-slices';
export { ModelParameters } from './transformer/parameters';
// Files and tokenizers
export {
  openSafetensors,
  parseShardSize,
  readSafetensors,
  readSafetensorsHeader,
  readShardIndex,
  SHARD_INDEX_FILE,
  type SafetensorsFile,
  type StreamedTensor,
  shardFileName,
  type WritableTensor,
  writeSafetensors,
  writeSafetensorsStreamed,
} from './safetensors/index';
export { ByteLevelBpeTokenizer, createWordLevelTokenizer, loadTokenizer, type Tokenizer, WordLevelTokenizer } from './tokenizers/index';
