/** Safetensors IO: typed arrays in and out, no tensor library. */
export {
  type FloatDType,
  type IntDType,
  type SafetensorsDType,
  SUPPORTED_DTYPES,
  bytesPerElement,
} from './dtypes';
export { type SafetensorsHeader, type TensorEntry, MAX_HEADER_BYTES } from './header';
export {
  type FloatTensor,
  type IntTensor,
  type ReadSafetensorsOptions,
  type SafetensorsFile,
  type SafetensorsTensor,
  readSafetensors,
  readSafetensorsHeader,
  openSafetensors,
  requireFloatTensor,
  type SafetensorsReader,
} from './read';
export { type StreamedTensor, type WritableTensor, type WritableTensors, writeSafetensors, writeSafetensorsStreamed } from './write';
export {
  formatShardIndex,
  parseShardSize,
  planShards,
  readShardIndex,
  SHARD_INDEX_FILE,
  type ShardIndex,
  type ShardPlan,
  shardFileName,
  SHARD_FILE_PATTERN,
} from './sharded';
export { roundToBf16, roundToF16 } from './half';
