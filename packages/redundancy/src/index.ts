// Faithfulness curves over circuit sizes, in edges and nodes, with a random baseline
export {
  CURVE_KINDS,
  type CurveKind,
  type KindSummary,
  type RedundancyCurves,
  type RedundancyOptions,
  type RedundancyPoint,
  randomMeanCurve,
  redundancyCurves,
} from './curves';
export { checkGrid, logGrid } from './grid';
export { nStar, nStarBracket, redundancyRatio, type SizePoint, sizesInside } from './n-star';
export { componentCount, componentNodes, nodeCircuitMask, randomNodeOrder, rankNodes } from './node-circuits';
export { edgeNodes, nodeCoordinates, nodeFrequencyColumns, stepFrequency } from './node-frequency';
// The tuning curve and its knee
export { type KneeResult, kneedle, type TuningPoint, tuningKnee } from './knee';
export { type EvalPrompts, evalPromptsOf, evaluateTarget, TARGET_METRICS, type TargetMetric, targetValue } from './target-metric';
export { type CollectedTuningRuns, collectTuningRuns, type TuningRun } from './tuning-runs';
// Tables and configs
export { NodeFrequencyTable, RedundancyCurveTable, TuningCurveTable, TuningNodeStepsTable } from './tables';
export { CurvesConfig, DrawConfig, TuningCurveConfig } from './config';
export { RedundancySummary, summarizeCurves } from './stage/curves-summary';
export { TuningCurveSummary } from './stage/tuning-summary';
