import { loadModel } from '@circuit-tuning/model';
import { defineStage } from '@circuit-tuning/runtime';
import { LoraAdapters, LoraConfig } from '../lora/adapters';
import { trainAndSave, trainingInputs, trainingOutputs, VariantConfig } from './common';

export const LoraTrainingConfig = VariantConfig.extend({ lora: LoraConfig.prefault({}).describe('the low-rank adapters') });

/**
 * `train:lora`: the base model stays frozen; rank-r adapters on the chosen matrices train, and
 * are merged into a plain checkpoint at the end (loads anywhere, no adapter code needed).
 */
export const loraTrainingStage = defineStage({
  slot: 'train',
  variant: 'lora',
  // 2: the eval loss reads through the adapters.
  // Version 3: the loss is the runtime's crossEntropyRows (a native kernel under wasm + the addon).
  // Version 4: ct.train.log version 2 and the divergence guard.
  version: 4,
  description: 'Fine-tune low-rank adapters on attention and MLP matrices; output the merged checkpoint.',
  config: LoraTrainingConfig,
  inputs: trainingInputs,
  outputs: trainingOutputs,
  async run(ctx) {
    const model = await loadModel(ctx.inputs.model);
    const adapters = new LoraAdapters(model, ctx.config.lora, ctx.seed);
    try {
      const trainable = [...adapters.variables].map(([name, variable]) => ({ name, variable }));
      const { summary } = await trainAndSave(ctx, model, {
        plan: () => ({
          trainable,
          trainableCount: adapters.count(),
          loss: (ids, weights, objective) => objective(model.forward(ids, {}, adapters).logits, ids, weights),
        }),
        extraVariables: adapters.variables,
        evalWeights: adapters,
        identity: { lora: ctx.config.lora },
        beforeSave: () => adapters.merge(),
      });
      return { summary };
    } finally {
      adapters.dispose();
      model.dispose();
    }
  },
});
