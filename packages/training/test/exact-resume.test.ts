import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrainLogTable } from '@circuit-tuning/contracts';
import { ensureBackend, readArrowTable, runStage, silentReporter } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { circuitTuningStage, fixedCircuitStage, fullTrainingStage, loraTrainingStage, randomCircuitStage } from '../src/stages';
import { fixture, promptsFixture } from './fixtures';

beforeAll(() => ensureBackend());

const stages = {
  full: fullTrainingStage,
  lora: loraTrainingStage,
  'circuit-tuning': circuitTuningStage,
  'random-circuit': randomCircuitStage,
  'fixed-circuit': fixedCircuitStage,
} as const;
type Variant = keyof typeof stages;

// 9 steps, a circuit found every 3 steps (0, 3, 6), a checkpoint every 2 (2, 4, 6, 8): not a
// multiple, so most checkpoints fall between rediscoveries and must carry the circuit.
const common = { steps: 9, batchSize: 4, seqLen: 16, learningRate: 0.05, checkpointEvery: 2, keepCheckpoints: 2, evalEvery: 4, optimizer: { kind: 'adam' } };
const circuit = { ...common, every: 3, topN: { start: 12 }, discovery: { prompts: 8 }, circuitLogEvery: 1 };

/**
 * Kill points, as "SIGKILL when step k's progress arrives" (after step k − 1's update, before the
 * checkpoint of step k is written), each in a fresh process that resumes what the last one left:
 *   4: a checkpoint step, killed before its checkpoint: resumes from step 2 (circuit of step 0);
 *   5: neither a checkpoint nor a rediscovery step: resumes from step 4 (circuit of step 3);
 *   7: after the checkpoint of a rediscovery step (6), mid-interval: resumes from step 6.
 */
const cases: { name: string; variant: Variant; config: Record<string, unknown>; kills: number[] }[] = [
  { name: 'full', variant: 'full', config: common, kills: [4, 5] },
  { name: 'lora', variant: 'lora', config: { ...common, lora: { rank: 2 } }, kills: [4, 5] },
  { name: 'circuit-tuning, gradient-mask', variant: 'circuit-tuning', config: { ...circuit, mode: 'gradient-mask' }, kills: [4, 5, 7] },
  { name: 'circuit-tuning, edge-ablated', variant: 'circuit-tuning', config: { ...circuit, mode: 'edge-ablated' }, kills: [4, 5, 7] },
  { name: 'random-circuit', variant: 'random-circuit', config: circuit, kills: [4, 5, 7] },
  { name: 'fixed-circuit', variant: 'fixed-circuit', config: circuit, kills: [4, 7] },
];

const childScript = join(import.meta.dirname, 'stage-child.ts');

/** Runs the stage in a child process that SIGKILLs itself at `killAfter`; asserts that it died that way. */
function killedRun(args: { variant: Variant; stageDir: string; inputs: Record<string, string>; config: unknown; killAfter: number }): void {
  const child = spawnSync(process.execPath, ['--import', 'tsx', childScript, JSON.stringify({ ...args, seed: 1 })], {
    cwd: join(import.meta.dirname, '..'),
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(child.signal, `the child should have killed itself at step ${args.killAfter}; stderr:\n${child.stderr}`).toBe('SIGKILL');
}

/** Every output of a stage directory: files byte for byte, the train log column by column without its timing. */
function outputsOf(stageDir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of readdirSync(join(stageDir, 'model')).sort()) out[`model/${name}`] = readFileSync(join(stageDir, 'model', name));
  for (const name of readdirSync(stageDir)) if (name.endsWith('.arrow') && name !== 'train_log.arrow') out[name] = readFileSync(join(stageDir, name));
  return out;
}

async function trainLogWithoutTimings(stageDir: string): Promise<Record<string, unknown[]>> {
  const { columns } = await readArrowTable(join(stageDir, 'train_log.arrow'), TrainLogTable);
  const { step_ms: _timing, ...rest } = columns;
  return Object.fromEntries(Object.entries(rest).map(([name, values]) => [name, Array.from(values as ArrayLike<unknown>)]));
}

describe('a run killed with SIGKILL and resumed equals the uninterrupted run, byte for byte', () => {
  for (const { name, variant, config, kills } of cases) {
    it(`${name}: killed at steps ${kills.join(', ')}`, async () => {
      const { dir, modelDir, texts } = await fixture();
      const inputs: Record<string, string> = { model: modelDir, train: texts, dev: texts };
      if (variant !== 'full' && variant !== 'lora') inputs.prompts = await promptsFixture(dir);
      const stage = stages[variant] as typeof fullTrainingStage;
      const straight = join(dir, 'straight');
      await runStage(stage, { stageDir: straight, inputs, config, seed: 1, reporter: silentReporter });

      const resumed = join(dir, 'resumed');
      for (const killAfter of kills) killedRun({ variant, stageDir: resumed, inputs, config, killAfter });
      const result = await runStage(stage, { stageDir: resumed, inputs, config, seed: 1, reporter: silentReporter });
      // The last checkpoint before the last kill: the newest step below it that is a multiple of 2.
      expect(result.manifest.summary?.resumedFrom).toBe(2 * Math.floor((kills.at(-1)! - 1) / 2));

      expect(outputsOf(resumed)).toEqual(outputsOf(straight));
      expect(await trainLogWithoutTimings(resumed)).toEqual(await trainLogWithoutTimings(straight));
    });
  }
});
