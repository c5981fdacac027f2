// The stage definitions: for the pipeline's stage registry (and this package's tests). Another
// stage package calls this package's library (src/index.ts), never its stages.
export { fullTrainingStage } from './stages/full-stage';
export { loraTrainingStage } from './stages/lora-stage';
export { circuitTuningStage, fixedCircuitStage, randomCircuitStage } from './stages/circuit-stages';
export { circuitLoraStage } from './stages/circuit-lora-stage';
