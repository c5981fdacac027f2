// Tensor ops that pick the fast form for the active backend (see backend/fixes.ts).
export { batchMatMul, matMul, registerWeightProductGradients } from './matmul';
export { embeddingLookup } from './embedding';
export { type AdamSettings, type AdamStepInputs, type AdamStepSettings, fusedAdamStep } from './adam';
export { fusedSgdStep, type SgdSettings, type SgdStepInputs, type SgdStepSettings } from './sgd';
export { fusedGeluTanh } from './activation';
export { maskedSoftmax, softmaxBackward } from './attention';
export { fusedLayerNorm, fusedRmsNorm } from './norm';
export { crossEntropyRows, nextTokenCrossEntropy, positionCrossEntropy } from './loss';
