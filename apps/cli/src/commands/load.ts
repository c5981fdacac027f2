import { ConfigError } from '@circuit-tuning/contracts';
import { loadModelStage } from '@circuit-tuning/model/stages';
import { runStage, stderrReporter } from '@circuit-tuning/runtime';
import type { Command } from '../command';
import { COMMAND_INFO } from './catalog';
import { startBackend } from '../backend-options';

/** Runs the load stage alone: a model directory in, a checked canonical copy and its tables out. */
export const loadCommand: Command = {
  ...COMMAND_INFO['load'],
  async run({ values, positionals }) {
    const [source] = positionals;
    const out = values.out as string | undefined;
    if (!source || !out) throw new ConfigError('load needs a model directory and --out STAGE_DIR', { hint: `usage: circuit-tuning ${this.usage}` });
    const backend = await startBackend(values);
    const config: Record<string, unknown> = {};
    if (values.tokenizer !== undefined) config.tokenizer = values.tokenizer;
    if (values.dtype !== undefined) config.dtype = values.dtype;
    const result = await runStage(loadModelStage, {
      stageDir: out,
      inputs: { source },
      config,
      backend,
      force: Boolean(values.force),
      allowExistingDir: values['allow-existing-dir'] === true,
      reporter: stderrReporter(),
    });
    process.stderr.write(`${result.cached ? 'reused' : 'wrote'} ${out} (${Object.keys(result.outputs).join(', ')})\n`);
    process.stdout.write(`${JSON.stringify(result.manifest.summary ?? {})}\n`);
    return 0;
  },
};
