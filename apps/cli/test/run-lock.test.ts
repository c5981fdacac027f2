/**
 * After a kill (issue 14, finding 10): the next `ct run` takes over the lock the killed process
 * left, removes the temp files and half-written folders of every writer's form (the runtime's
 * atomic writes, the model's safetensors writer, a training checkpoint folder), and says both on
 * stderr; the finished step is still reused.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli } from './cli-process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TASKS_PIPELINE } from './bad-input-cases';



const start = (args: string[]) => startCli(args, { timeoutMs: 60_000 });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-run-lock-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('a run killed mid-way leaves a lock and temps that the next run removes and names', async () => {
  const pipeline = join(dir, 'tasks.yaml');
  await writeFile(pipeline, TASKS_PIPELINE);
  const run = join(dir, 'run');
  const lock = join(run, '.pipeline', 'lock');

  // A real kill: SIGKILL as soon as the run holds its lock.
  const killed = start(['run', pipeline, '--run-dir', run, '--quiet']);
  const deadline = Date.now() + 30_000;
  while (!existsSync(lock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const owner = JSON.parse(await readFile(lock, 'utf8')) as { pid: number; host: string; purpose: string };
  expect(owner).toMatchObject({ pid: killed.child.pid, host: hostname(), purpose: 'ct run tasks-only' });
  killed.child.kill('SIGKILL');
  await killed.done;
  expect(existsSync(lock)).toBe(true);

  // Finish it, then leave what a kill mid-write leaves, in each writer's form, and the lock again.
  expect((await start(['run', pipeline, '--run-dir', run, '--quiet']).done).code).toBe(0);
  const dead = killed.child.pid as number;
  const temps = [
    join(run, `.run.json.${dead}.0a1b2c3d4e5f.tmp`),
    join(run, 'tasks', `.corpus_train.arrow.${dead}.0a1b2c3d4e5f.tmp`),
    join(run, 'tasks', 'tokenizer', `.tokenizer.json.tmp-${dead}-0a1b2c3d`),
    join(run, 'tasks', 'checkpoints', `step-0000002.tmp-${dead}`, 'model.safetensors'),
  ];
  for (const temp of temps) {
    await mkdir(join(temp, '..'), { recursive: true });
    await writeFile(temp, Buffer.alloc(250_000));
  }
  await writeFile(lock, JSON.stringify({ pid: dead, host: hostname(), startedAt: 'then', purpose: 'ct run tasks-only' }));

  const next = await start(['run', pipeline, '--run-dir', run]).done;
  expect(next.code, next.stderr).toBe(0);
  expect(next.stderr).toContain(`warning: removed the lock of process ${dead} on ${hostname()} (ct run tasks-only), which is no longer running`);
  expect(next.stderr).toMatch(/warning: removed 4 temporary file\(s\) a killed run left \(1\.0 MB\): /);
  for (const temp of temps) expect(existsSync(temp), temp).toBe(false);
  expect(existsSync(join(run, 'tasks', 'checkpoints', `step-0000002.tmp-${dead}`))).toBe(false);
  expect(next.stderr).toMatch(/tasks\s.*reused/);
  expect(existsSync(lock)).toBe(false);
});
