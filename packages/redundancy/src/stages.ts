// The stage definitions: for the pipeline's stage registry (and this package's tests). Another
// stage package calls this package's library (src/index.ts), never its stages.
export { redundancyCurvesStage } from './stage/curves-stage';
export { tuningCurveStage } from './stage/tuning-curve-stage';
export { redundancyStages, registerRedundancyStages, runRedundancyCurves, runTuningCurve } from './stage/run';
