// Optimizers that honour masks exactly
export { adam, createOptimizer, type Optimizer, OptimizerConfig, type ParameterUpdate, sgd } from './optim/index';
// Data
export { SequenceDataset, type TokenBatch } from './data/batches';
// The shared training loop
export { CHECKPOINTS_DIR, listCheckpoints, verifyCheckpoint } from './loop/checkpoint';
export { evaluationLoss } from './loop/evaluate';
export { writeTrainLog } from './loop/log-table';
export { clipFactor, nextTokenLoss } from './loop/loss';
export { DebiasConfig, debiasObjective, type Objective, pronounPairIds } from './loop/debias';
export { type RunTrainingOptions, runTraining } from './loop/run-training';
export { learningRateAt, ScheduleConfig } from './loop/schedule';
export { DEFAULT_SEQ_LEN, DivergenceConfig, TrainConfig, type TrainConfigInput } from './loop/train-config';
export { type LogRow, type PlanState, type StepPlan, trainLoop } from './loop/train-loop';
// The variants' texts and configs (the stage definitions: src/stages.ts)
export { readTexts, type TextRows, textDataset } from './data/texts';
export { VariantConfig } from './stages/common';
export { FullTrainingConfig, InitConfig } from './stages/full-stage';
export { LoraTrainingConfig } from './stages/lora-stage';
export { LORA_TARGETS, LoraAdapters, LoraConfig } from './lora/adapters';
export { type CircuitAdapterStep, CircuitLoraAdapters } from './lora/circuit-adapters';
export { CircuitLoraConfig } from './stages/circuit-lora-stage';
export { type CircuitMasks, CircuitParameterMap, type CircuitSlices, circuitMasks, parameterOwners } from './circuit/masks';
export { drawRandomExtra, type RandomExtraDraw } from './circuit/random-extra';
export { CircuitTuningConfig, StepDiscoveryConfig, TopNConfig } from './circuit/circuit-config';
export { type CircuitLogEntry, CircuitPlanner, type CircuitPlannerHooks, type CircuitSource, type EmptyCircuitAction } from './circuit/planner';
