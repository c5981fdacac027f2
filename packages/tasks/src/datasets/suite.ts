/**
 * Everything the embedded world provides, in memory: the tokenizer, the LM training corpus and the
 * task datasets. The `tasks:generate` stage writes exactly these tables; the trainer can call this
 * directly to get the corpus without reading it back.
 *
 * Each dataset draws from its own named random stream, so choosing fewer tasks or changing one
 * dataset's size leaves the others byte-identical.
 */
import { createRng } from '@circuit-tuning/runtime';
import { z } from 'zod';
import { WorldConfig } from '../world/config';
import { createWorld, type World } from '../world/world';
import { splitSizes } from './collect';
import { buildCorpusTexts } from './corpus-texts';
import { buildGenderBiasEval, buildGenderBiasTexts } from './gender-bias';
import { buildGeneralText } from './general-text';
import { buildIoiPrompts } from './ioi';
import { type PromptsColumns, promptColumns, type TextsColumns, textColumns } from './rows';
import { buildDisagreementTexts, buildSubjectVerbPrompts } from './subject-verb';

export const TASK_NAMES = ['sv-agreement', 'sv-disagreement', 'gender-bias', 'ioi', 'general-text'] as const;
export type TaskName = (typeof TASK_NAMES)[number];

export const DatasetSizes = z.strictObject({
  /** Prompts (sv-agreement and sv-disagreement share them). */
  svAgreement: splitSizes(3000, 300, 900).describe('subject-verb prompts (sv-agreement and sv-disagreement share them)'),
  /** Flipped sentences for disagreement fine-tuning. */
  svDisagreementTrain: splitSizes(2000, 200, 200).describe('flipped sentences for disagreement fine-tuning'),
  /** Prompts; each occupation prompt gives a `pro` and an `anti` row, each neutral one a `neutral` row. */
  genderBiasEval: splitSizes(400, 150, 300).describe("gender prompts; each occupation prompt gives a 'pro' and an 'anti' row, each neutral one a 'neutral' row"),
  /** Sentences, half with he-forms and half with she-forms. */
  genderBiasTrain: splitSizes(2000, 200, 200).describe('de-biasing sentences, half with he-forms and half with she-forms'),
  /** Indirect object identification prompts. */
  ioi: splitSizes(2000, 200, 500).describe('indirect object identification prompts'),
  /** Narrative documents. */
  generalText: splitSizes(500, 200, 500).describe('narrative documents (held-out perplexity)'),
});

export const CorpusOptions = z.strictObject({
  /** Training tokens (BOS included); the embedded model trains on ~4–6 M (docs/method.md §6). */
  tokens: z.number().int().min(0).default(5_000_000).describe('training tokens (BOS included); the embedded model trains on ~4–6 M (docs/method.md §6)'),
  /** Documents of the corpus's dev split. */
  devDocuments: z.number().int().min(0).default(2000).describe("documents of the corpus's dev split"),
});

export const TaskSuiteConfig = z.strictObject({
  world: WorldConfig.prefault({}),
  tasks: z
    .array(z.enum(TASK_NAMES))
    .default([...TASK_NAMES])
    .refine((tasks) => new Set(tasks).size === tasks.length, { message: 'a task is listed twice' }),
  sizes: DatasetSizes.prefault({}),
  corpus: CorpusOptions.prefault({}),
});

export type TaskSuiteConfig = z.output<typeof TaskSuiteConfig>;
export type TaskSuiteConfigInput = z.input<typeof TaskSuiteConfig>;

export interface TaskSuite {
  readonly config: TaskSuiteConfig;
  /** The world: vocabulary, tokenizer (`world.tokenizer`), lexicon and held-out sets. */
  readonly world: World;
  /** The LM corpus: `train` rows fill the token budget, `dev` rows for validation loss. */
  readonly corpus: TextsColumns;
  readonly svAgreement?: PromptsColumns;
  readonly svDisagreement?: PromptsColumns;
  readonly svDisagreementTrain?: TextsColumns;
  readonly genderBiasEval?: PromptsColumns;
  readonly genderBiasTrain?: TextsColumns;
  readonly ioi?: PromptsColumns;
  readonly generalText?: TextsColumns;
}

export function generateTaskSuite(input: TaskSuiteConfigInput | TaskSuiteConfig = {}): TaskSuite {
  const config = TaskSuiteConfig.parse(input);
  const world = createWorld(config.world);
  const root = createRng(config.world.seed);
  const has = (task: TaskName) => config.tasks.includes(task);
  const sizes = config.sizes;
  const suite: { -readonly [K in keyof TaskSuite]: TaskSuite[K] } = {
    config,
    world,
    corpus: textColumns(buildCorpusTexts(world, root.fork('corpus'), config.corpus)),
  };
  if (has('sv-agreement') || has('sv-disagreement')) {
    const { agreement, disagreement } = buildSubjectVerbPrompts(world, root.fork('sv-prompts'), sizes.svAgreement);
    if (has('sv-agreement')) suite.svAgreement = promptColumns(agreement);
    if (has('sv-disagreement')) {
      suite.svDisagreement = promptColumns(disagreement);
      suite.svDisagreementTrain = textColumns(buildDisagreementTexts(world, root.fork('sv-disagreement-texts'), sizes.svDisagreementTrain));
    }
  }
  if (has('gender-bias')) {
    suite.genderBiasEval = promptColumns(buildGenderBiasEval(world, root.fork('gender-bias-eval'), sizes.genderBiasEval));
    suite.genderBiasTrain = textColumns(buildGenderBiasTexts(world, root.fork('gender-bias-texts'), sizes.genderBiasTrain));
  }
  if (has('ioi')) suite.ioi = promptColumns(buildIoiPrompts(world, root.fork('ioi'), sizes.ioi));
  if (has('general-text')) suite.generalText = textColumns(buildGeneralText(world, root.fork('general-text'), sizes.generalText));
  return suite;
}
