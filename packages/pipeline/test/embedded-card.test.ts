import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { taskReport } from '@circuit-tuning/evaluation';
import { loadModel } from '@circuit-tuning/model';
import { ensureBackend } from '@circuit-tuning/runtime';
import { generateTaskSuite } from '@circuit-tuning/tasks';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelCard } from '../src/index';

const modelDir = fileURLToPath(new URL('../../../fixtures/models/default', import.meta.url));

beforeAll(() => ensureBackend());

describe('the embedded default model', () => {
  it('has the task scores its card claims, recomputed on a sample of the test split', async () => {
    const card = JSON.parse(await readFile(join(modelDir, 'card.json'), 'utf8')) as ModelCard;
    // The prompts depend on the world seed only, not on the corpus: skip generating 5 M tokens.
    const suite = generateTaskSuite({ ...card.recipe.tasks, world: { seed: card.recipe.seed }, corpus: { tokens: 0, devDocuments: 0 } });
    const model = await loadModel(modelDir);
    const sample = 150;
    const report = await taskReport(
      model,
      { svAgreement: suite.svAgreement!, svDisagreement: suite.svDisagreement!, ioi: suite.ioi!, genderBiasEval: suite.genderBiasEval!, generalText: suite.generalText! },
      { split: 'test', limit: sample, tokenize: (text) => model.encode(text, { bos: true }) },
    );
    model.dispose();
    const claimed = card.report;
    // Accuracies on a sample of 150 stay within a few points of the full split's.
    expect(Math.abs(report.svAgreement!.accuracy - claimed.svAgreement!.accuracy)).toBeLessThan(0.06);
    expect(Math.abs(report.ioi!.accuracy - claimed.ioi!.accuracy)).toBeLessThan(0.08);
    expect(Math.abs(report.svDisagreement!.accuracy - claimed.svDisagreement!.accuracy)).toBeLessThan(0.06);
    expect(Math.abs(report.genderBias!.prejudiceRiskStereotyped - claimed.genderBias!.prejudiceRiskStereotyped)).toBeLessThan(0.1);
    expect(report.generalText!.perplexity / claimed.generalText!.perplexity).toBeGreaterThan(0.85);
    expect(report.generalText!.perplexity / claimed.generalText!.perplexity).toBeLessThan(1.15);
    // And what the issue asks of the model itself.
    expect(claimed.svAgreement!.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(claimed.svAgreement!.byCondition.attractor).toBeGreaterThanOrEqual(0.9);
    expect(claimed.ioi!.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(claimed.svDisagreement!.accuracy).toBeLessThan(0.05);
    expect(claimed.genderBias!.prejudiceRiskStereotyped).toBeGreaterThan(claimed.genderBias!.prejudiceRiskBalanced + 0.1);
  });
});
