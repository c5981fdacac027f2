/**
 * A user's own stage variant as a module, for the pipeline tests: `stage: <this file's path>#wordCount`
 * in a pipeline loads it (packages/pipeline/test/pipeline-spec.test.ts).
 */
import { TextsTable } from '@circuit-tuning/contracts';
import { defineStage, readArrowTable, writeJsonAtomic } from '@circuit-tuning/runtime';
import { z } from 'zod';

export const wordCount = defineStage({
  slot: 'stats',
  variant: 'word-count',
  version: 1,
  description: 'Counts the words of a texts table (a module variant, for tests).',
  config: z.strictObject({ split: z.string().default('train'), top: z.number().int().positive().default(5) }),
  inputs: { texts: { kind: 'arrow', schema: TextsTable } },
  outputs: { counts: { kind: 'json' } },
  async run(ctx) {
    const { columns } = await readArrowTable(ctx.inputs.texts, TextsTable);
    const counts = new Map<string, number>();
    columns.text.forEach((text, i) => {
      if (columns.split[i] !== ctx.config.split) return;
      for (const word of text.split(/\s+/)) if (word) counts.set(word, (counts.get(word) ?? 0) + 1);
    });
    const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, ctx.config.top);
    await writeJsonAtomic(ctx.output('counts'), { words: counts.size, top: Object.fromEntries(top) });
    return { summary: { words: counts.size } };
  },
});
