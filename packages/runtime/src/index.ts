// The runtime's surface: what other packages and the apps use, by name (the rest stays internal).
// The tensor backend: the one tfjs engine, its choice, and the fast-path kernels.
export { tf } from './backend/tf';
export { applyWebgpuKernels, type BackendInfo, backendInfo, type BackendName, type BackendRequest, ensureBackend, type InitBackendOptions, initBackend, nativeKernelsApplied, opFixesFor, shutdownBackend } from './backend/index';
// Tensor ops that pick the fast form for the active backend.
export {
  type AdamSettings,
  type AdamStepInputs,
  type AdamStepSettings,
  batchMatMul,
  crossEntropyRows,
  embeddingLookup,
  fusedAdamStep,
  fusedGeluTanh,
  fusedLayerNorm,
  fusedRmsNorm,
  fusedSgdStep,
  maskedSoftmax,
  matMul,
  nextTokenCrossEntropy,
  positionCrossEntropy,
  registerWeightProductGradients,
  type SgdSettings,
  type SgdStepSettings,
  softmaxBackward,
} from './ops/index';
// Seeded randomness for every stage.
export { createRng, type Rng } from './random/index';
// Files: atomic writes, their temp names and cleanup after a kill, directory locks, hashing.
export {
  acquireLock,
  type HeldLock,
  hashConfig,
  isLockLive,
  isTempName,
  readArtifactText,
  readLockOwner,
  removeStaleTemps,
  sha256Bytes,
  sha256File,
  type FileContent,
  writeDirAtomic,
  writeFileAtomic,
  writeJsonAtomic,
} from './fs/index';
// Arrow IPC tables with self-describing schema metadata.
export { type ArrowWriteResult, type RawArrowTable, readArrowTable, readArrowTableAny, writeArrowTable } from './arrow/index';
// The stage contract: definitions, registry, runner, manifests, run indexes.
export {
  type AnyStageDefinition,
  type CacheDecision,
  checkCache,
  defineStage,
  indexStep,
  type LoadedRunIndex,
  LOG_FILE,
  type OutputPaths,
  outputFileName,
  parseStageConfig,
  type PortSpec,
  type PortSpecs,
  type ProgressHandle,
  readManifest,
  readRunIndex,
  recordArtifact,
  RunIndex,
  RunIndexStep,
  type RunStageOptions,
  type RunStageResult,
  runStage,
  silentReporter,
  STAGE_LOCK_FILE,
  type StageContext,
  type StageDefinition,
  type StageDirState,
  stageDirState,
  type StageEvent,
  stageId,
  type StageLogger,
  type StageReporter,
  StageRegistry,
  type StageRunSettings,
  stageRunSettings,
  stderrReporter,
  writeManifest,
  writeRunIndex,
} from './stage/index';
