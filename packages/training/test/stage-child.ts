/**
 * Runs one training stage in its own process, for the tests that kill it: with `killAfter: k` the
 * process sends itself SIGKILL as soon as step k's progress event arrives, that is after step
 * k − 1's update and before the checkpoint of step k is written (the loop reports progress first).
 * A real kill: no handler, no flush, no finally block runs.
 *
 *   tsx test/stage-child.ts '{"variant":"circuit-tuning","stageDir":…,"inputs":{…},"config":{…},"seed":1,"killAfter":5}'
 */
import { ensureBackend, runStage, type StageReporter } from '@circuit-tuning/runtime';
import { circuitTuningStage, fixedCircuitStage, fullTrainingStage, loraTrainingStage, randomCircuitStage } from '../src/stages';

const stages = {
  full: fullTrainingStage,
  lora: loraTrainingStage,
  'circuit-tuning': circuitTuningStage,
  'random-circuit': randomCircuitStage,
  'fixed-circuit': fixedCircuitStage,
} as const;

interface ChildArgs {
  variant: keyof typeof stages;
  stageDir: string;
  inputs: Record<string, string>;
  config: unknown;
  seed: number;
  killAfter?: number;
}

const args = JSON.parse(process.argv[2]!) as ChildArgs;
const reporter: StageReporter = (event) => {
  if (event.type === 'progress' && event.label === 'steps' && event.completed === args.killAfter) process.kill(process.pid, 'SIGKILL');
};
await ensureBackend();
// The runner types inputs per stage; this dispatcher passes them through as the test wrote them.
const stage = stages[args.variant] as typeof fullTrainingStage;
await runStage(stage, { stageDir: args.stageDir, inputs: args.inputs, config: args.config, seed: args.seed, reporter });
