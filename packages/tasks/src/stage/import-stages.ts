/**
 * `tasks:import-pairs`, `tasks:import-sv` and `tasks:import-winobias`: a researcher's own prompt
 * pairs and the paper's real task files as prompt tables, tokenized with the tokenizer of the
 * model they will run on (a model directory). Every importer writes the rows it refused to a
 * `rejects` table, counts them by reason in its summary and logs them; only a file with no usable
 * row fails the stage.
 */
import { PromptsTable, RejectsTable, TextsTable } from '@circuit-tuning/contracts';
import { loadTokenizer } from '@circuit-tuning/model';
import { defineStage, type StageLogger, writeArrowTable } from '@circuit-tuning/runtime';
import { z } from 'zod';
import { importPairs, PAIR_FORMATS, PairColumns } from '../importers/pairs';
import { importReferenceSubjectVerbJsonl } from '../importers/reference-sv';
import type { RejectLog } from '../importers/rejects';
import { SplitShares } from '../importers/splits';
import { importWinoBias } from '../importers/winobias';

/** What every importer writes: the prompts it made and the rows it refused. */
const IMPORT_OUTPUTS = {
  prompts: { kind: 'arrow', schema: PromptsTable },
  rejects: { kind: 'arrow', schema: RejectsTable, description: 'rows refused, with line, reason and fields' },
} as const;
/** Every importer tokenizes with the model's own tokenizer. */
const TOKENIZER_PORT = { kind: 'model-dir', description: "the model's tokenizer files (a model directory)" } as const;

/** Writes the rejects table and logs what was refused; the summary fields every importer shares. */
async function reportRejects(path: string, rejects: RejectLog, meta: { producer: string }, logger: StageLogger, counts: { rows: number; accepted: number }) {
  await writeArrowTable(path, RejectsTable, rejects.columns(), meta);
  for (const line of rejects.describe()) logger.warn(line);
  return { rows: counts.rows, accepted: counts.accepted, rejected: rejects.size, rejectReasons: rejects.counts() };
}

export const importPairsStage = defineStage({
  slot: 'tasks',
  variant: 'import-pairs',
  version: 1,
  description: 'Import clean/corrupted prompt pairs with answer and foil (CSV, TSV or JSONL; text or token ids) as a prompts table, one row per pair.',
  config: z.strictObject({
    /** `auto`: by the file's extension (.csv, .tsv, .jsonl). */
    format: z.enum(PAIR_FORMATS).default('auto').describe("the source's format; 'auto': by the file's extension (.csv, .tsv, .jsonl)"),
    /** The file's column names for clean, corrupted, answer, foil (and optional split, task, condition, group). */
    columns: PairColumns.prefault({}).describe("the file's column names for clean, corrupted, answer, foil (and optional split, task, condition, group)"),
    /** `text`: tokenized with the model's tokenizer, BOS first. `ids`: token ids used as they are. */
    tokens: z
      .enum(['text', 'ids'])
      .default('text')
      .describe("'text': tokenized with the model's tokenizer, BOS first; 'ids': token ids used as they are"),
    /** The `task` of rows without a task column. */
    task: z.string().min(1).default('pairs').describe('the task of rows without a task column'),
    /** Shares of rows without a split column (split by a hash of the clean prompt). */
    splits: SplitShares.default({ train: 0.8, dev: 0.1, test: 0.1 }).describe('shares of rows without a split column (split by a hash of the clean prompt)'),
  }),
  inputs: {
    source: { kind: 'file', description: 'CSV, TSV or JSONL with clean, corrupted, answer, foil' },
    tokenizer: TOKENIZER_PORT,
  },
  outputs: IMPORT_OUTPUTS,
  async run(ctx) {
    const tokenizer = await loadTokenizer(ctx.inputs.tokenizer);
    const result = await importPairs(ctx.inputs.source, { tokenizer, ...ctx.config });
    await writeArrowTable(ctx.output('prompts'), PromptsTable, result.prompts, { producer: ctx.producer, extra: { task: ctx.config.task } });
    const summary = await reportRejects(ctx.output('rejects'), result.rejects, { producer: ctx.producer }, ctx.logger, result);
    ctx.logger.info(`imported ${result.accepted} of ${result.rows} pairs (${result.rejects.size} rejected)`, { format: result.format });
    return { summary: { ...summary, prompts: result.prompts.id.length, format: result.format } };
  },
});

export const importSubjectVerbStage = defineStage({
  slot: 'tasks',
  variant: 'import-sv',
  version: 2,
  description: "Import the reference code's subject-verb jsonl as disagreement (or agreement) prompts and fine-tuning texts.",
  config: z.strictObject({
    /** `disagreement` (the paper's task): answer = flipped verb. `agreement`: answer = clean verb. */
    target: z
      .enum(['disagreement', 'agreement'])
      .default('disagreement')
      .describe("'disagreement' (the paper's task): answer = the flipped verb; 'agreement': answer = the clean verb"),
    /** One prompt per verb (`all`) or only the first verb of each row. */
    verbs: z.enum(['all', 'first']).default('all').describe("one prompt per verb ('all') or only for the first verb of each row"),
    /** Where the verbs are (importers/reference-sv.ts): the file's positions, a search of the text, or `auto`. */
    positions: z
      .enum(['auto', 'file', 'search'])
      .default('auto')
      .describe(
        "where the verbs are: 'file' uses the file's GPT-2 positions and ids, 'search' finds the verbs in the text (another tokenizer), 'auto' uses 'file' when the tokenizer reproduces the file's verb ids on most rows",
      ),
    /** Rows split by a hash of clean_text (all prompts of a row in one split). */
    splits: SplitShares.default({ train: 0.8, dev: 0.1, test: 0.1 }).describe('shares of the splits; rows split by a hash of clean_text (all prompts of a row in one split)'),
  }),
  inputs: {
    source: { kind: 'file', description: 'subject-verb jsonl (clean_text, corr_text, clean_verb_pos, ...)' },
    tokenizer: TOKENIZER_PORT,
  },
  outputs: { prompts: IMPORT_OUTPUTS.prompts, texts: { kind: 'arrow', schema: TextsTable }, rejects: IMPORT_OUTPUTS.rejects },
  async run(ctx) {
    const tokenizer = await loadTokenizer(ctx.inputs.tokenizer);
    const result = await importReferenceSubjectVerbJsonl(ctx.inputs.source, { tokenizer, ...ctx.config });
    const meta = { producer: ctx.producer, extra: { task: result.prompts.task[0] ?? '' } };
    await writeArrowTable(ctx.output('prompts'), PromptsTable, result.prompts, meta);
    await writeArrowTable(ctx.output('texts'), TextsTable, result.texts, meta);
    const summary = await reportRejects(ctx.output('rejects'), result.rejects, { producer: ctx.producer }, ctx.logger, result);
    ctx.logger.info(`imported ${result.accepted} of ${result.rows} rows as ${result.prompts.id.length} prompts (${result.salvaged} salvaged, ${result.rejects.size} rejected)`, {
      positions: result.positions,
    });
    return { summary: { ...summary, salvaged: result.salvaged, prompts: result.prompts.id.length, positions: result.positions } };
  },
});

export const importWinoBiasStage = defineStage({
  slot: 'tasks',
  variant: 'import-winobias',
  version: 2,
  description: 'Import WinoBias-style pro/anti-stereotyped jsonl as gender-bias prompts (answer = male form, foil = female form).',
  config: z.strictObject({
    split: z.enum(['train', 'dev', 'test']).default('test').describe('the split every imported prompt is in'),
  }),
  inputs: {
    pro: { kind: 'file', description: 'pro-stereotyped jsonl' },
    anti: { kind: 'file', description: 'anti-stereotyped jsonl (rows pair with the pro file by id)' },
    tokenizer: TOKENIZER_PORT,
  },
  outputs: IMPORT_OUTPUTS,
  async run(ctx) {
    const tokenizer = await loadTokenizer(ctx.inputs.tokenizer);
    const result = await importWinoBias({ pro: ctx.inputs.pro, anti: ctx.inputs.anti }, { tokenizer, split: ctx.config.split });
    const { prompts } = result;
    await writeArrowTable(ctx.output('prompts'), PromptsTable, prompts, { producer: ctx.producer, extra: { task: 'gender-bias' } });
    const summary = await reportRejects(ctx.output('rejects'), result.rejects, { producer: ctx.producer }, ctx.logger, result);
    return { summary: { ...summary, prompts: prompts.id.length, occupations: new Set(prompts.group).size } };
  },
});
