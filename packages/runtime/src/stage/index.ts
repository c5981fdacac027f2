export { checkAgainstProducer, currentSha256, pathForManifest, type RecordArtifactOptions, recordArtifact } from './artifacts';
export { type CacheDecision, type CacheKey, checkCache } from './cache';
export { parseStageConfig } from './config';
export {
  type AnyStageDefinition,
  defineStage,
  type StageConfigInputOf,
  type StageConfigOf,
  type StageContext,
  type StageDefinition,
  type StageRunResult,
  stageId,
  stageProducer,
} from './define';
export { manifestPath, readManifest, writeManifest } from './manifest-io';
export {
  type ArrowPortSpec,
  type FilePortSpec,
  type InputPaths,
  type JsonPortSpec,
  LOG_FILE,
  type ModelDirPortSpec,
  type OutputPaths,
  outputFileName,
  type PortSpec,
  type PortSpecs,
} from './ports';
export { parseStageId, StageRegistry } from './registry';
export { indexStep, type LoadedRunIndex, RUN_INDEX_SCHEMA, RunIndex, RunIndexStep, readRunIndex, writeRunIndex } from './run-index';
export {
  createLogger,
  createProgress,
  type EventFields,
  fanOut,
  jsonlFileReporter,
  type LogLevel,
  type ProgressHandle,
  type StageEvent,
  type StageLogger,
  type StageReporter,
  silentReporter,
  stderrReporter,
} from './reporter';
export { STAGE_LOCK_FILE, type StageDirState, stageDirState } from './stage-dir';
export { type RunStageOptions, type RunStageResult, runStage, type StageRunSettings, stageRunSettings } from './runner';
export { defaultVersions } from './versions';
