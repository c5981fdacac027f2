import { ConfigError } from '@circuit-tuning/contracts';
import { gpt2Config, loadModel, loadTokenizer, TransformerModel } from '@circuit-tuning/model';
import { defineStage } from '@circuit-tuning/runtime';
import { z } from 'zod';
import { trainAndSave, trainingInputs, trainingOutputs, VariantConfig } from './common';

/** How the model starts: from the input checkpoint, or from scratch with a GPT-2 shape. */
export const InitConfig = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('pretrained').describe('start from the input model') }),
  z.strictObject({
    kind: z.literal('scratch').describe('start from random weights with a GPT-2 shape (the tokenizer input gives the vocabulary)'),
    nLayers: z.number().int().positive().describe('transformer layers'),
    nHeads: z.number().int().positive().describe('attention heads per layer'),
    dModel: z.number().int().positive().describe('width of the residual stream'),
    maxPositions: z.number().int().positive().describe('longest sequence (learned position embeddings)'),
  }),
]);

export const FullTrainingConfig = VariantConfig.extend({
  init: InitConfig.default({ kind: 'pretrained' }).describe('how the model starts: from the input checkpoint, or from scratch with a GPT-2 shape'),
});

/**
 * `train:full`: every parameter is trained (ordinary fine-tuning, and training the embedded model
 * from scratch). Checkpoints live beside the outputs, so rerunning a killed stage resumes it.
 */
export const fullTrainingStage = defineStage({
  slot: 'train',
  variant: 'full',
  // Version 2: the loss is the runtime's crossEntropyRows (a native kernel under wasm + the addon).
  // Version 3: ct.train.log version 2 and the divergence guard.
  version: 3,
  description: 'Train every parameter on a texts table: fine-tuning from a checkpoint, or pre-training from scratch.',
  config: FullTrainingConfig,
  inputs: {
    ...trainingInputs,
    model: { kind: 'model-dir', optional: true },
    tokenizer: { kind: 'model-dir', optional: true },
  },
  outputs: trainingOutputs,
  async run(ctx) {
    const model = await initialModel(ctx.config.init, ctx.inputs.model, ctx.inputs.tokenizer, ctx.seed);
    try {
      const { summary } = await trainAndSave(ctx, model, { identity: { init: ctx.config.init } });
      return { summary };
    } finally {
      model.dispose();
    }
  },
});

async function initialModel(
  init: z.output<typeof InitConfig>,
  modelDir: string | undefined,
  tokenizerDir: string | undefined,
  seed: number,
): Promise<TransformerModel> {
  if (init.kind === 'pretrained') {
    if (!modelDir) throw new ConfigError('train:full with init "pretrained" needs a model input');
    return loadModel(modelDir);
  }
  if (!tokenizerDir) throw new ConfigError('train:full with init "scratch" needs a tokenizer input');
  const tokenizer = await loadTokenizer(tokenizerDir);
  const config = gpt2Config({
    nLayers: init.nLayers,
    nHeads: init.nHeads,
    dModel: init.dModel,
    maxPositions: init.maxPositions,
    vocabSize: tokenizer.vocabSize,
    ...(tokenizer.bosTokenId === undefined ? {} : { bosTokenId: tokenizer.bosTokenId }),
    ...(tokenizer.eosTokenId === undefined ? {} : { eosTokenId: tokenizer.eosTokenId }),
  });
  return TransformerModel.random(config, seed, tokenizer);
}
