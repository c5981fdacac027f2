import { ConfigError } from '@circuit-tuning/contracts';
import { generate, loadModel } from '@circuit-tuning/model';
import type { Command } from '../command';
import { COMMAND_INFO } from './catalog';
import { startBackend } from '../backend-options';
import { defaultModelDir } from '../fixtures';
import { formatInspect, inspectText } from './inspect';

/** The README's main job, until the pipeline app exists: load the embedded model, generate, inspect. */
export const demoCommand: Command = {
  ...COMMAND_INFO['demo'],
  async run({ values, positionals }) {
    const dir = positionals[0] ?? defaultModelDir;
    const newTokens = Number(values.tokens ?? 12);
    if (!Number.isInteger(newTokens) || newTokens < 0) throw new ConfigError(`--tokens must be a non-negative integer, got ${values.tokens}`);
    const backend = await startBackend(values);
    const model = await loadModel(dir);
    try {
      const prompt = (values.prompt as string | undefined) ?? 'the keys to the cabinet';
      const promptIds = model.encode(prompt);
      const generated = await generate(model, promptIds, { maxNewTokens: newTokens });
      const text = model.tokenizer!.decode(generated);
      process.stdout.write(`${model.config.architecture} · ${model.config.nLayers} layers × ${model.config.nHeads} heads · d_model ${model.config.dModel} · ${model.params.count().toLocaleString('en-US')} parameters\n`);
      process.stdout.write(`prompt:     ${prompt}\ngeneration: ${text}\n\n`);
      const report = await inspectText(model, prompt, 5);
      process.stdout.write(`${formatInspect({ model: dir, backend, ...report })}\n`);
    } finally {
      model.dispose();
    }
    return 0;
  },
};
