import { join } from 'node:path';
import { type CircuitTuningError, ContractError, exitCodeFor } from '@circuit-tuning/contracts';
import { ensureBackend, runStage, silentReporter } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { circuitTuningStage, fixedCircuitStage, randomCircuitStage } from '../src/stages';
import { fixture, type PromptIds, promptsFixture } from './fixtures';

beforeAll(() => ensureBackend());

/**
 * The circuit-training variants read their prompts with the validator discovery and evaluation use
 * (contracts' validatePromptRows): a bad row stops the stage before training, with a contract
 * error (exit code 4) that names the file and the row.
 */
const badRows: { name: string; edit: (row: PromptIds) => PromptIds; message: RegExp }[] = [
  {
    name: 'lengths',
    edit: (row) => ({ ...row, corrupt: [...row.corrupt, row.corrupt[1]!] }),
    message: /bad-lengths\.arrow row 5: prompt id 5: clean and corrupted prompts differ in length \(4 vs 5 tokens\)/,
  },
  { name: 'answer', edit: (row) => ({ ...row, answer: 99_999 }), message: /bad-answer\.arrow row 5: prompt id 5: answer id 99999 is outside the model's vocabulary of 10/ },
  { name: 'pos', edit: (row) => ({ ...row, pos: 9 }), message: /bad-pos\.arrow row 5: prompt id 5: pos 9 is outside clean_ids \(length 4\)/ },
];

describe('circuit-training variants reject bad prompt tables', () => {
  for (const [variant, stage] of [
    ['circuit-tuning', circuitTuningStage],
    ['random-circuit', randomCircuitStage],
    ['fixed-circuit', fixedCircuitStage],
  ] as const) {
    it(`${variant}: pairs of different lengths, an answer outside the vocabulary, a position outside the prompt`, async () => {
      const { dir, modelDir, texts } = await fixture();
      for (const bad of badRows) {
        const prompts = await promptsFixture(dir, { name: `bad-${bad.name}.arrow`, edit: (row, i) => (i === 5 ? bad.edit(row) : row) });
        const error = await runStage(stage, {
          stageDir: join(dir, `${variant}-${bad.name}`),
          inputs: { model: modelDir, train: texts, prompts },
          config: { steps: 2, batchSize: 4, seqLen: 16, topN: { start: 12 }, discovery: { prompts: 8 } },
          seed: 1,
          reporter: silentReporter,
        }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, `${variant} trained on a table with a bad ${bad.name}`).toBeInstanceOf(ContractError);
        expect((error as Error).message).toMatch(bad.message);
        expect(exitCodeFor[(error as CircuitTuningError).kind]).toBe(4);
      }
    });
  }
});
