// The pipeline app as a library: files → plan → run directory, and what reads a run afterwards.
// Pipeline files: parsing with positions, overrides, resolution against a stage registry
export { BACKEND_CHOICES, type BackendChoice, ExternalStageSpec, type InputSpec, type PipelineSpec, parsePipeline, type StepSpec } from './spec';
export { parseYaml, readYamlFile, type YamlSource } from './yaml-source';
export { applyDocumentOverrides, applyStepOverrides, type Override, parseOverride } from './overrides';
export {
  type LoadPipelineOptions,
  loadPipeline,
  type PipelinePlan,
  planFromResolved,
  RESOLVED_FILE,
  type ResolvedInput,
  type ResolvedPipeline,
  type ResolvedStageRef,
  type ResolvedStep,
} from './resolve';
// Stages the app knows by name, and user variants (modules, external commands)
export { BUILTIN_STAGES, builtinRegistry, knownTables } from './stages';
export { loadModuleStage, type ModuleStage } from './module-stage';
export { EXTERNAL_PROTOCOL, EXTERNAL_REQUEST_FILE, ExternalConfig, externalStage } from './external-stage';
export { describeConfig, stageHelp } from './describe';
// Running: run directories, caching and resume, progress display
export {
  type PipelineDisplay,
  type PipelineRunOptions,
  type PipelineRunResult,
  PIPELINE_COPY,
  RUN_LOG,
  RUN_STATUS_FILE,
  runPipeline,
  type StepResult,
  type StepStatus,
} from './runner';
export { createDisplay, type DisplayOptions, PlainDisplay, TerminalDisplay } from './display';
export { INDEX_DIR, indexPath, readRunIndex, RUN_INDEX_SCHEMA, RunIndex, RunIndexStep, writeRunIndex } from './run-index';
// Reproducibility and sweeps
export { compareRuns, formatComparison, type OutputComparison, type OutputVerdict, VOLATILE_COLUMNS } from './verify';
export { expandGrid, type GridAxis, parseGridOption, runTrials, type SweepSpec, type Trial, type TrialResult } from './sweep';
// The report stage and its sections
export { ReportConfig, reportStage } from './report/report-stage';
export { type ReportBuilder, type ReportSection, registerReportSection, type StepView } from './report/sections';
export { changedEntries, HEADLINE_TITLE } from './report/headline';
export { hasTimings, maskTimings } from './report/timing';
export { lineChartSvg, type Series } from './report/charts';
export { type CircuitDrawingOptions, circuitDrawingSvg } from './report/circuit-drawing';
