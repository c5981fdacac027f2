export {
  ArtifactError,
  CircuitTuningError,
  ConfigError,
  ContractError,
  type ErrorKind,
  exitCodeFor,
  RuntimeError,
} from './errors';
export * from './graph/index';
export {
  type ColumnInputOf,
  type ColumnOf,
  type ColumnsInputOf,
  type ColumnsOf,
  type DenseColumnInputMap,
  type DenseColumnMap,
  defineTableSchema,
  FIELD_TYPES,
  type FieldSpec,
  type FieldType,
  type FieldValueMap,
  TABLE_META_PRODUCER,
  TABLE_META_SCHEMA,
  TABLE_META_SCHEMA_VERSION,
  type TableSchema,
  tableSchemaId,
} from './table-schemas';
export {
  ArtifactRecord,
  MANIFEST_FILE,
  MANIFEST_SCHEMA_VERSION,
  ManifestBackend,
  PortKind,
  StageError,
  StageIdentity,
  StageManifest,
  StageStatus,
} from './manifest';
export { ModelNodesTable, ModelParametersTable } from './model-tables';
export { PromptsTable, RejectsTable, TextsTable } from './task-tables';
export {
  type PromptIdColumns,
  type PromptLimits,
  type PromptRowCheck,
  type PromptRowIds,
  validatePromptRow,
  validatePromptRows,
  validatePromptsTable,
} from './prompt-rows';
export { CircuitLogTable, TrainLogTable } from './training-tables';
export { DiscoveryEdgesTable, DiscoveryNodesTable, FaithfulnessCurveTable } from './discovery-tables';
export { CircuitDiffTable, EdgeTrendTable, EvaluationComparisonTable, EvaluationMetricsTable, LogitLensTable } from './evaluation-tables';
export { NodeFrequencyTable, RedundancyCurveTable, TuningCurveTable, TuningNodeStepsTable } from './redundancy-tables';
