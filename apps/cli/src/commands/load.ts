import { ConfigError } from '@circuit-tuning/contracts';
import { loadModelStage } from '@circuit-tuning/model/stages';
import { runStage, stderrReporter } from '@circuit-tuning/runtime';
import type { Command } from '../command';
import { startBackend } from '../backend-options';

/** Runs the load stage alone: a model directory in, a checked canonical copy and its tables out. */
export const loadCommand: Command = {
  name: 'load',
  summary: 'Run the load stage: check a model directory and write its canonical copy, parameter and node tables, and a manifest.',
  usage: 'load MODEL_DIR --out STAGE_DIR [--tokenizer required|optional] [--dtype F32|F16|BF16] [--force] [--allow-existing-dir]',
  options: {
    out: { type: 'string' },
    tokenizer: { type: 'string' },
    dtype: { type: 'string' },
    force: { type: 'boolean' },
    'allow-existing-dir': { type: 'boolean' },
  },
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
