// Scoring prompts and text
export { perplexity } from './perplexity';
export { accuracy, mean, type PromptScores, type ScoredPrompt, scorePrompts } from './prompt-scores';
export { type PromptTaskScore, type TaskReport, type TaskTables, taskReport } from './task-report';
// Task metrics and general capability, as rows of the metrics table
export {
  type EvaluationKind,
  type EvaluationTables,
  evaluateTasks,
  generalTextMetrics,
  genderBiasMetrics,
  type MetricRow,
  promptRowsOf,
  promptTaskMetrics,
  type TaskMetricOptions,
} from './task-metrics';
// Comparing runs, each variant over its seeds
export {
  bestRuns,
  type ComparisonRow,
  compareRuns,
  comparisonChartSvg,
  comparisonMarkdown,
  higherIsBetter,
  type LabelledMetrics,
  PAIRED_BASELINES,
  type PairedBaseline,
} from './compare';
export { CONFIDENCE, PAIRED_TEST, type PairedTest, pairedTTest, type SeedSummary, seedSummary } from './seed-statistics';
export { logGamma, regularizedIncompleteBeta, studentTCdf, studentTQuantile } from './student-t';
// Comparing circuits across checkpoints
export {
  type CircuitCheckpoint,
  checkpointArrays,
  checkpointFromEdges,
  checkpointFromLog,
  chooseSteps,
  circuitMembership,
  type EdgeTrend,
  edgeTrends,
  type MembershipRow,
  nodesOfEdges,
  type Trend,
} from './circuit-diff';
// The logit lens of head outputs
export { type LogitLens, logitLens, meanStd } from './logit-lens';
// Tables
export { CircuitDiffTable, EdgeTrendTable, EvaluationComparisonTable, EvaluationMetricsTable, LogitLensTable } from './tables';
// The stages' configs and the metrics file they write (the definitions: src/stages.ts)
export { EvaluateTasksConfig, summarizeMetrics, TASK_OF_PORT, writeMetrics } from './stage/tasks-stage';
export { CompareConfig, EXTRA_RUN_PORTS } from './stage/compare-stage';
export { CompareCircuitsConfig } from './stage/circuits-stage';
export { LogitLensConfig } from './stage/logit-lens-stage';
