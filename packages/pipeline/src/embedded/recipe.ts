import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, PromptsTable, TextsTable } from '@circuit-tuning/contracts';
import { type TaskReport, taskReport } from '@circuit-tuning/evaluation';
import { loadModel } from '@circuit-tuning/model';
import { type BackendInfo, readArrowTable, runStage, type StageReporter } from '@circuit-tuning/runtime';
import { generateTasksStage } from '@circuit-tuning/tasks/stages';
import { fullTrainingStage } from '@circuit-tuning/training/stages';
import { z } from 'zod';

/**
 * How the embedded default model is made: the world's task suite, then GPT-2 pre-training from
 * scratch on its corpus. Everything that decides the result is here and in the seed, so one
 * command reproduces the model from fixtures/embedded/recipe.json.
 */
export const EmbeddedRecipe = z.strictObject({
  seed: z.number().int().min(0).default(20261125),
  tasks: z.record(z.string(), z.unknown()).default({}),
  model: z.strictObject({
    nLayers: z.number().int().positive().default(4),
    nHeads: z.number().int().positive().default(4),
    dModel: z.number().int().positive().default(128),
    maxPositions: z.number().int().positive().default(64),
  }).prefault({}),
  train: z.record(z.string(), z.unknown()).default({}),
  /** How many test prompts per task the card's numbers use (all when absent). */
  evalLimit: z.number().int().positive().optional(),
});
export type EmbeddedRecipe = z.output<typeof EmbeddedRecipe>;

export async function readRecipe(path: string): Promise<EmbeddedRecipe> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${path}: cannot be read as JSON: ${(error as Error).message}`);
  }
  const parsed = EmbeddedRecipe.safeParse(json);
  if (!parsed.success) throw new ConfigError(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export interface EmbeddedResult {
  modelDir: string;
  report: TaskReport;
  trainSummary: Record<string, unknown>;
  seconds: { tasks: number; train: number; evaluate: number };
}

/** Runs the recipe in `runDir` (each stage resumable and cached there) and evaluates the result. */
export async function makeEmbeddedModel(recipe: EmbeddedRecipe, runDir: string, options: { backend: BackendInfo; reporter: StageReporter; force?: boolean }): Promise<EmbeddedResult> {
  const common = { seed: recipe.seed, backend: options.backend, reporter: options.reporter, force: Boolean(options.force) };
  let t0 = performance.now();
  const tasks = await runStage(generateTasksStage, { ...common, stageDir: join(runDir, 'tasks'), config: recipe.tasks });
  const tasksSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const train = await runStage(fullTrainingStage, {
    ...common,
    stageDir: join(runDir, 'train'),
    inputs: { tokenizer: tasks.outputs.tokenizer!, train: tasks.outputs.corpus_train!, dev: tasks.outputs.corpus_train! },
    config: { ...recipe.train, init: { kind: 'scratch', ...recipe.model }, packing: 'packed' },
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const model = await loadModel(train.outputs.model!);
  try {
    const prompts = async (port: 'sv_agreement' | 'sv_disagreement' | 'ioi' | 'gender_bias_eval') => (await readArrowTable(tasks.outputs[port]!, PromptsTable)).columns;
    const texts = async (port: 'general_text') => (await readArrowTable(tasks.outputs[port]!, TextsTable)).columns;
    const report = await taskReport(
      model,
      {
        svAgreement: await prompts('sv_agreement'),
        svDisagreement: await prompts('sv_disagreement'),
        ioi: await prompts('ioi'),
        genderBiasEval: await prompts('gender_bias_eval'),
        generalText: await texts('general_text'),
      },
      { split: 'test', ...(recipe.evalLimit === undefined ? {} : { limit: recipe.evalLimit }), tokenize: (text) => model.encode(text, { bos: true }) },
    );
    return {
      modelDir: train.outputs.model!,
      report,
      trainSummary: { ...(train.manifest.summary ?? {}) },
      seconds: { tasks: tasksSeconds, train: trainSeconds, evaluate: (performance.now() - t0) / 1000 },
    };
  } finally {
    model.dispose();
  }
}
