// Prompts: reading, checking and batching clean/corrupted pairs
export {
  batchPrompts,
  type PromptBatch,
  type PromptExample,
  type PromptLimits,
  type PromptSet,
  splitBatch,
  validatePrompts,
} from './prompts/prompt-set';
export { checkTokenization, type PromptFilter, type PromptRow, type PromptSetOptions, readPromptSet, readPrompts } from './prompts/read-prompts';
// Metrics: a registry of task metrics M on the logits
export {
  getMetric,
  hasMetric,
  klToClean,
  logitDiff,
  type MetricDefinition,
  type MetricInputs,
  metricNames,
  negLoss,
  probDiff,
  registerMetric,
} from './metrics/registry';
export { logitsAtPositions, type MetricTargets, metricPerExample, metricTargets, oneHotRows } from './metrics/positions';
// Scoring edges: EAP, EAP-IG, exact patching, random
export { ABLATION_KINDS, Ablation, type AblationKind } from './scoring/ablation';
export { type AttributionSettings, attributeBatch, DEFAULT_SCORED_POSITIONS, SCORED_POSITIONS, type ScoredPositions } from './scoring/attribution';
export { type ExactSettings, patchBatch } from './scoring/exact';
export { type EdgeScores, SCORING_METHODS, type ScoreEdgesOptions, type ScoringMethod, scoreEdges } from './scoring/score-edges';
export { defaultPassBudgetBytes, type PassKind, passBytes, rowsPerPass } from './scoring/pass-memory';
// Selecting and running circuits
export {
  allNodeNames,
  type Circuit,
  circuitFromMask,
  circuitNodes,
  edgeOrder,
  type SelectionOptions,
  selectCircuit,
  selectionScores,
  topNSchedule,
} from './circuit/selection';
export { pruneDangling } from './circuit/prune';
export { nodeScores } from './circuit/node-scores';
export { type CircuitMetrics, type EvaluateOptions, evaluateCircuits, faithfulness } from './circuit/evaluate';
export {
  type AreaPoint,
  type CurveAreas,
  type CurveOptions,
  type CurvePoint,
  curveAreas,
  edgeAreaPoints,
  type FaithfulnessCurve,
  faithfulnessCurve,
  MIB_FRACTIONS,
  topCircuits,
} from './circuit/curve';
export { compareWithRandomCircuits, type RandomComparison } from './circuit/random-baseline';
// The whole discovery in memory
export { type CircuitEvaluation, type DiscoveryResult, type DiscoveryRunOptions, discoverCircuit } from './discover-circuit';
// Files: tables, EAP-IG JSON, drawings
export { edgeColumns, nodeColumns } from './io/tables';
export { DEFAULT_EAP_IG_NODE_FORMAT, EAP_IG_NODE_FORMATS, type EapIgJson, type EapIgNodeFormat, eapIgJsonSchema, fromEapIgJson, toEapIgJson } from './io/eap-ig-json';
export { mibFolderName, type MibSubmissionKind, type MibSubmissionOptions, mibSubmission, writeMibSubmission } from './io/mib';
export { DiscoveryEdgesTable, DiscoveryNodesTable, FaithfulnessCurveTable } from './tables';
// Config and the stage
export {
  curveConfig,
  DEFAULT_TOP_N,
  type DiscoveryConfig,
  type DiscoveryConfigInput,
  discoveryConfigShape,
  drawConfig,
  eapConfig,
  eapIgConfig,
  exactConfig,
  randomConfig,
  selectionConfig,
} from './config';
export { DiscoverySummary, summarize, writeDiscoveryOutputs } from './stage/outputs';
export { type DiscoverVariant, type RunDiscoveryOptions, runDiscovery } from './stage/run-discovery';
// Statistics used to compare scoring methods
export { pearson, ranks, scoreAgreement, spearman } from './stats/correlation';
