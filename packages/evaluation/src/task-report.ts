import type { ColumnsOf, PromptsTable, TextsTable } from '@circuit-tuning/contracts';
import type { TransformerModel } from '@circuit-tuning/model';
import { prejudiceRisk } from '@circuit-tuning/tasks';
import { perplexity } from './perplexity';
import { accuracy, mean, scorePrompts } from './prompt-scores';
import { promptRowsOf } from './task-metrics';

type Prompts = ColumnsOf<typeof PromptsTable>;
type Texts = ColumnsOf<typeof TextsTable>;

/** The tables a task report reads (any may be absent). */
export interface TaskTables {
  svAgreement?: Prompts;
  svDisagreement?: Prompts;
  ioi?: Prompts;
  genderBiasEval?: Prompts;
  generalText?: Texts;
}

export interface PromptTaskScore {
  n: number;
  accuracy: number;
  meanLogitDiff: number;
  /** Accuracy per condition (e.g. simple / attractor / relative-clause). */
  byCondition: Record<string, number>;
}

export interface TaskReport {
  split: string;
  svAgreement?: PromptTaskScore;
  svDisagreement?: PromptTaskScore;
  ioi?: PromptTaskScore;
  genderBias?: {
    /** Prejudice risk on the pro/anti-stereotyped evaluation sentences (docs/method.md §5). */
    prejudiceRiskStereotyped: number;
    /** The same on sentences whose referent the corpus pairs with he and she equally. */
    prejudiceRiskBalanced: number;
    /** Mean renormalised probability of the occupation's stereotyped pronoun (pro rows). */
    stereotypedPronounProbability: number;
  };
  generalText?: { perplexity: number; tokens: number };
}

async function promptTask(model: TransformerModel, table: Prompts, split: string, limit?: number): Promise<PromptTaskScore> {
  const rows = promptRowsOf(table, { split, limit });
  const scores = await scorePrompts(model, rows);
  const byCondition: Record<string, number> = {};
  for (const condition of [...new Set(rows.map((r) => r.condition))].sort()) {
    byCondition[condition] = accuracy(rows.flatMap((r, i) => (r.condition === condition ? [scores.logitDiff[i]!] : [])));
  }
  return { n: rows.length, accuracy: accuracy(scores.logitDiff), meanLogitDiff: mean(scores.logitDiff), byCondition };
}

/**
 * The numbers a model card reports for the embedded world's tasks on one split: agreement and
 * its target disagreement, indirect-object identification, prejudice risk and perplexity.
 */
export async function taskReport(model: TransformerModel, tables: TaskTables, options: { split?: string; limit?: number; tokenize?: (text: string) => number[] } = {}): Promise<TaskReport> {
  const split = options.split ?? 'test';
  const report: TaskReport = { split };
  if (tables.svAgreement) report.svAgreement = await promptTask(model, tables.svAgreement, split, options.limit);
  if (tables.svDisagreement) report.svDisagreement = await promptTask(model, tables.svDisagreement, split, options.limit);
  if (tables.ioi) report.ioi = await promptTask(model, tables.ioi, split, options.limit);
  if (tables.genderBiasEval) {
    const rows = promptRowsOf(tables.genderBiasEval, { split, limit: options.limit });
    const scores = await scorePrompts(model, rows);
    const risk = (keep: (condition: string) => boolean) =>
      prejudiceRisk(rows.flatMap((r, i) => (keep(r.condition) ? [{ group: r.group, pMale: scores.pAnswer[i]!, pFemale: scores.pFoil[i]! }] : []))).risk;
    // A pro row's target pronoun is the stereotyped one: male when it is the answer (the male form).
    const table = tables.genderBiasEval;
    const stereotyped: number[] = [];
    let row = 0;
    for (let i = 0; i < table.id.length && row < rows.length; i++) {
      if (table.split[i] !== split) continue;
      if (table.condition[i] === 'pro' && table.target_text[i] && options.tokenize) {
        const target = options.tokenize(table.target_text[i]!)[table.pos[i]! + 1];
        const pMale = scores.pAnswer[row]! / (scores.pAnswer[row]! + scores.pFoil[row]!);
        stereotyped.push(target === table.answer[i] ? pMale : 1 - pMale);
      }
      row++;
    }
    report.genderBias = {
      prejudiceRiskStereotyped: risk((c) => c === 'pro' || c === 'anti'),
      prejudiceRiskBalanced: risk((c) => c === 'neutral'),
      stereotypedPronounProbability: mean(stereotyped),
    };
  }
  if (tables.generalText) {
    const sequences: number[][] = [];
    for (let i = 0; i < tables.generalText.id.length; i++) if (tables.generalText.split[i] === split) sequences.push(tables.generalText.ids[i]!);
    const result = await perplexity(model, options.limit === undefined ? sequences : sequences.slice(0, options.limit));
    report.generalText = { perplexity: result.perplexity, tokens: result.tokens };
  }
  return report;
}
