// The stage definitions: for the pipeline's stage registry (and this package's tests). Another
// stage package calls this package's library (src/index.ts), never its stages.
export { evaluateTasksStage } from './stage/tasks-stage';
export { evaluateCompareStage } from './stage/compare-stage';
export { evaluateCircuitsStage } from './stage/circuits-stage';
export { evaluateLogitLensStage } from './stage/logit-lens-stage';
export { evaluateStages, type RunEvaluateOptions, registerEvaluateStages, runEvaluation } from './stage/run';
