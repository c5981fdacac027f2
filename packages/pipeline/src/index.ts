// Pipelines of stages: a pipeline file → a plan → a run directory, and what reads a run afterwards.
// Pipeline files: parsing with positions, overrides, resolution against a stage registry
export { BACKEND_CHOICES, type BackendChoice, isRecord, STEP_ID } from './spec';
export { readYamlFile } from './yaml-source';
export { parseOverride } from './overrides';
export { isResolvedPipeline, loadPipeline, type PipelinePlan, planFromResolved, RESOLVED_FILE, type ResolvedPipeline } from './resolve';
// The stages known by name (user variants, modules and external commands, join a pipeline's own copy)
export { BUILTIN_STAGES, builtinRegistry } from './stages';
export { stageHelp } from './describe';
// Running: run directories, caching and resume, progress display
export {
  type DispatchedStep,
  type DispatchOutcome,
  type PipelineDisplay,
  type PipelineRunOptions,
  type PipelineRunResult,
  runPipeline,
  type StepDispatcher,
  type StepResult,
  type StepStatus,
} from './runner';
export { INDEX_DIR, indexPath, isInside, RUN_LOCK_FILE, RUN_STATUS_FILE, stepDir } from './run-dir';
export { createDisplay } from './display';
// The embedded default model: its recipe (fixtures/embedded/recipe.json) run as stages, and its card
export { cardMarkdown, type ModelCard } from './embedded/card';
export { makeEmbeddedModel, readRecipe } from './embedded/recipe';
// Reproducibility and sweeps
export { compareRuns, formatComparison, prepareVerifyDir } from './verify';
export {
  checkSweepDir,
  expandGrid,
  trialSets,
  validateTrials,
  type GridAxis,
  isSweepDocument,
  parseGridOption,
  parseSweep,
  runTrials,
  selectMetrics,
  type SweepSpec,
  sweepTable,
  tableMarkdown,
  varyingMetrics,
  writeSweepFiles,
} from './sweep';
// Sweeps over several machines: a shared artifact store (a directory or the NATS object store)
export { type ArtifactStore, checkKey, type EntryData, getDir, putDir, runKey, type StoreEntry, storeIdentity } from './store/artifact-store';
export { chunksOf, collect, PACK_FORMAT, packStream, readPack, unpackStream } from './store/pack';
export { openDirStore } from './store/dir-store';
export { INDEX_BUCKET, OBJECT_BUCKET, openNatsStore, PART_BYTES } from './store/nats-store';
export { leaseKey, partialKey, stepKey, type StepSync, stepSync } from './store/step-sync';
export { collectGarbage, type GcItem, type GcOptions, type GcResult, LEASE_TTL_MS, parseAge, readReference, type StoreReference } from './store/gc';
export { connectQueue, describeQueue, queueUrl } from './executor/nats-connection';
export { EXECUTORS, type ExecutorName, executorChoice, localExecutor, openSharedStore, queueExecutor, type QueueExecutorOptions, type StepHooks, type TrialExecutor } from './executor/index';
export { queueStepDispatcher, runJobsId } from './executor/step-jobs';
export { DEFAULT_QUEUE_SETTINGS, openQueue, type Queue, type QueueSettings, type TrialJob, type TrialState } from './executor/queue';
export { runTrialJob, trialRunDir } from './executor/trial-job';
export { type JobOutcomeFile, runWorker, workerName } from './executor/worker';
// A run's table as CSV, JSON, JSON lines or Parquet (`ct export`)
export { EXPORT_FORMATS, type ExportFormat, exportSource, exportTable, jsonCell, writeExport } from './export-table';
