import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadModel } from '@circuit-tuning/model';
import { cardMarkdown, makeEmbeddedModel, type ModelCard, readRecipe } from '@circuit-tuning/pipeline';
import { stderrReporter, writeDirAtomic, writeFileAtomic } from '@circuit-tuning/runtime';
import type { Command } from '../command';
import { COMMAND_INFO } from './catalog';
import { startBackend } from '../backend-options';
import { fixturesDir } from '../fixtures';

/** Reproduces the embedded default model from its recipe and writes it, with its card, to fixtures/. */
export const trainEmbeddedCommand: Command = {
  ...COMMAND_INFO['train-embedded'],
  async run({ values }) {
    const recipePath = (values.recipe as string | undefined) ?? join(fixturesDir, 'embedded', 'recipe.json');
    const runDir = (values['run-dir'] as string | undefined) ?? 'runs/embedded';
    const out = (values.out as string | undefined) ?? join(fixturesDir, 'models', 'default');
    const backend = await startBackend(values);
    const recipe = await readRecipe(recipePath);
    const result = await makeEmbeddedModel(recipe, runDir, { backend, reporter: stderrReporter(), force: Boolean(values.force) });
    const model = await loadModel(result.modelDir);
    const tokens = Number(result.trainSummary.tokens ?? 0);
    const card: ModelCard = {
      name: 'circuit-tuning embedded default model',
      recipe,
      model: model.config,
      parameters: model.params.count(),
      backend,
      training: { ...result.trainSummary, seconds: result.seconds.train, tokensPerSecond: tokens / result.seconds.train },
      report: result.report,
      madeAt: new Date().toISOString(),
    };
    model.dispose();
    // Assembled next to the destination, then swapped in: a failed copy never leaves half a model.
    await writeDirAtomic(
      out,
      async (temp) => {
        await cp(result.modelDir, temp, { recursive: true });
        await writeFileAtomic(join(temp, 'card.json'), `${JSON.stringify(card, null, 2)}\n`);
        await writeFileAtomic(join(temp, 'README.md'), cardMarkdown(card));
      },
      { replace: (path) => rm(path, { recursive: true, force: true }) },
    );
    process.stderr.write(`wrote ${out}\n`);
    process.stdout.write(`${JSON.stringify(result.report, null, 2)}\n`);
    return 0;
  },
};
