/**
 * `tasks:generate`: the embedded world's tokenizer, LM corpus and task datasets as files. No
 * inputs; the world's seed is the run's seed (so the manifest's seed is the one that made the data).
 */
import { mkdir } from 'node:fs/promises';
import { PromptsTable, TextsTable } from '@circuit-tuning/contracts';
import { defineStage, writeArrowTable, writeJsonAtomic } from '@circuit-tuning/runtime';
import { z } from 'zod';
import type { PromptsColumns, TextsColumns } from '../datasets/rows';
import { CorpusOptions, DatasetSizes, generateTaskSuite, TASK_NAMES, type TaskSuite } from '../datasets/suite';
import { WorldConfig } from '../world/config';
import { describeWorld } from '../world/describe';

const prompts = (description: string) => ({ kind: 'arrow', schema: PromptsTable, optional: true, description }) as const;
const texts = (description: string) => ({ kind: 'arrow', schema: TextsTable, optional: true, description }) as const;

/** Output port → the suite's table and the task that produces it. */
const TABLES = [
  ['sv_agreement', 'svAgreement', 'sv-agreement', 'prompts'],
  ['sv_disagreement', 'svDisagreement', 'sv-disagreement', 'prompts'],
  ['sv_disagreement_train', 'svDisagreementTrain', 'sv-disagreement', 'texts'],
  ['gender_bias_eval', 'genderBiasEval', 'gender-bias', 'prompts'],
  ['gender_bias_train', 'genderBiasTrain', 'gender-bias', 'texts'],
  ['ioi', 'ioi', 'ioi', 'prompts'],
  ['general_text', 'generalText', 'general-text', 'texts'],
] as const;

export const generateTasksStage = defineStage({
  slot: 'tasks',
  variant: 'generate',
  version: 1,
  description: 'Generate the embedded world: its tokenizer, the LM training corpus, and the task datasets with train/dev/test splits.',
  config: z.strictObject({
    // The world's seed is the step's seed (run below).
    world: WorldConfig.omit({ seed: true })
      .prefault({})
      .describe('everything that decides the generated language and its corpus (the seed is the step\'s seed)'),
    tasks: z.array(z.enum(TASK_NAMES)).default([...TASK_NAMES]).describe('the task datasets to generate'),
    sizes: DatasetSizes.prefault({}).describe('examples per split of each dataset'),
    corpus: CorpusOptions.prefault({}).describe('the LM training corpus'),
  }),
  inputs: {},
  outputs: {
    tokenizer: { kind: 'model-dir', description: 'the word-level tokenizer (tokenizer.json, vocab.json, tokenizer_config.json)' },
    world: { kind: 'json', description: 'the vocabulary, lexicon (occupations with their stereotype, names with their gender) and resolved config' },
    corpus_train: { kind: 'arrow', schema: TextsTable, description: 'LM corpus, one document per row (BOS first); train and dev splits' },
    sv_agreement: prompts('subject-verb agreement prompts'),
    sv_disagreement: prompts('subject-verb disagreement prompts (answer = disagreeing verb)'),
    sv_disagreement_train: texts('sentences with every present-tense verb flipped, for fine-tuning'),
    gender_bias_eval: prompts('pro/anti-stereotyped and neutral pronoun prompts (answer = male form, foil = female form)'),
    gender_bias_train: texts('occupation sentences with co-referring pronouns, he/she balanced'),
    ioi: prompts('indirect object identification prompts'),
    general_text: texts('narrative documents for held-out perplexity'),
  },
  async run(ctx) {
    const { world, ...rest } = ctx.config;
    const suite = generateTaskSuite({ ...rest, world: { ...world, seed: ctx.seed } });
    ctx.signal.throwIfAborted();
    const tokenizerDir = ctx.output('tokenizer');
    await mkdir(tokenizerDir, { recursive: true });
    await suite.world.tokenizer.save(tokenizerDir);
    await writeJsonAtomic(ctx.output('world'), describeWorld(suite.world));
    const meta = (task: string) => ({ producer: ctx.producer, extra: { task } });
    await writeArrowTable(ctx.output('corpus_train'), TextsTable, suite.corpus, meta('corpus'));
    const rows: Record<string, number> = { corpus_train: suite.corpus.id.length };
    for (const [port, field, task, kind] of TABLES) {
      ctx.signal.throwIfAborted();
      const table = suite[field as keyof TaskSuite];
      if (table === undefined) continue;
      if (kind === 'prompts') await writeArrowTable(ctx.output(port), PromptsTable, table as PromptsColumns, meta(task));
      else await writeArrowTable(ctx.output(port), TextsTable, table as TextsColumns, meta(task));
      rows[port] = (table as PromptsColumns | TextsColumns).id.length;
      ctx.logger.info(`wrote ${port}`, { rows: rows[port] });
    }
    return { summary: { vocabularySize: suite.world.tokenizer.vocabSize, corpusTokens: corpusTokens(suite), ...rows } };
  },
});

function corpusTokens(suite: TaskSuite): number {
  let tokens = 0;
  suite.corpus.ids.forEach((ids, i) => {
    if (suite.corpus.split[i] === 'train') tokens += ids.length;
  });
  return tokens;
}
