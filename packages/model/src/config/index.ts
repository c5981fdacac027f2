export { fromHuggingFaceConfig, toHuggingFaceConfig } from './hf-config';
export {
  gpt2Config,
  hasAttentionOutputBias,
  llamaConfig,
  type ModelConfig,
  type ModelConfigInput,
  modelConfigSchema,
  type RopeScaling,
  ropeScalingSchema,
} from './model-config';
