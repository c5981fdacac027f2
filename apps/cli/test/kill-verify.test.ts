/**
 * Exact resume, as a user meets it: every training variant (full, LoRA, circuit-tuning in both
 * modes, random circuit, fixed circuit) is killed with SIGKILL at three different points of its
 * run, the pipeline is rerun after each kill and resumes, and `ct verify` then reruns the whole
 * pipeline uninterrupted and finds every output reproduced (the train logs' step times aside).
 *
 * The kill points follow the checkpoints the run writes (every 3 steps; circuit variants
 * rediscover every 4): the first kill lands as soon as step 3's checkpoint appears, the second
 * 60 ms after step 6's, the third 150 ms after step 9's, so the killed process is somewhere in the
 * steps after them: rediscovery steps, checkpoint steps and steps that are neither.
 * packages/training/test/exact-resume.test.ts kills at exact steps inside the stage; this test
 * covers what the pipeline adds: its cache, its run lock and its manifests across kills.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli as start } from './cli-process';

const pipeline = fileURLToPath(new URL('./pipelines/training-variants.yaml', import.meta.url));
const TRAINING_STEPS = ['train-full', 'train-lora', 'circuit-tuning-gradient-mask', 'circuit-tuning-edge-ablated', 'random-circuit', 'fixed-circuit'];
/** Kill once the checkpoint of this step exists, after this many milliseconds. */
const KILL_POINTS = [
  { afterCheckpoint: 3, delayMs: 0 },
  { afterCheckpoint: 6, delayMs: 60 },
  { afterCheckpoint: 9, delayMs: 150 },
];


const checkpoint = (runDir: string, step: string, n: number) => join(runDir, step, 'run', 'checkpoints', `step-${String(n).padStart(7, '0')}`);

let dir: string;
let runDir: string;
const kills: { step: string; afterCheckpoint: number }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-kill-verify-'));
  runDir = join(dir, 'run');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a run killed during every training variant', () => {
  it('resumes after each of three kills per variant, and ct verify reproduces every output', async () => {
    for (const step of TRAINING_STEPS) {
      for (const point of KILL_POINTS) {
        const { child, done } = start(['run', pipeline, '--run-dir', runDir, '--quiet']);
        const target = checkpoint(runDir, step, point.afterCheckpoint);
        const deadline = Date.now() + 120_000;
        let exited = false;
        void done.then(() => {
          exited = true;
        });
        while (!existsSync(target) && !exited) {
          if (Date.now() > deadline) {
            child.kill('SIGKILL');
            throw new Error(`${step}: checkpoint ${point.afterCheckpoint} never appeared`);
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        if (exited) {
          const result = await done;
          throw new Error(`${step}: the run ended (exit ${result.code}) before checkpoint ${point.afterCheckpoint} appeared; kills so far: ${JSON.stringify(kills)}\n${result.stderr}`);
        }
        await new Promise((r) => setTimeout(r, point.delayMs));
        child.kill('SIGKILL');
        await done;
        kills.push({ step, afterCheckpoint: point.afterCheckpoint });
      }
    }
    const finish = await start(['run', pipeline, '--run-dir', runDir, '--quiet']).done;
    expect(finish.code, finish.stderr).toBe(0);

    const verify = await start(['verify', runDir, '--work', join(dir, 'verify'), '--json', '--quiet']).done;
    expect(verify.code, verify.stderr).toBe(0);
    const report = JSON.parse(verify.stdout) as { reproduced: boolean; outputs: { step: string; port: string; verdict: string; columns?: string[] }[] };
    for (const output of report.outputs) {
      if (output.port === 'train_log') expect(output, `${output.step}.${output.port}`).toMatchObject({ verdict: 'timing-only', columns: ['step_ms'] });
      else expect(output.verdict, `${output.step}.${output.port}`).toBe('same');
    }
    expect(report.reproduced).toBe(true);
    expect(kills).toHaveLength(TRAINING_STEPS.length * KILL_POINTS.length);
  }, 600_000);
});
