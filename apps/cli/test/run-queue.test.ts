/**
 * A single run whose foreach members go to workers (`ct run --executor queue`), as users run it:
 * the real nats-server on a free loopback port (packages/pipeline/test/nats-server.ts), two
 * `ct worker` processes with their own working directories, and a tiny tuning curve
 * (pipelines/foreach-tiny.yaml: a foreach of three circuit-tuning steps, a full fine-tuning beside
 * them, the curve collecting all four).
 *
 *   - the members run on the workers, the rest here, and the run directory holds what a local run
 *     of the same pipeline holds (every output's hash, timing columns aside); `ct verify` passes
 *   - a coordinator SIGKILLed while its steps are out is rerun with the same command: nothing is
 *     queued twice, the finished steps are taken from the store, the run completes
 *   - a member whose config is wrong fails on its worker once, is not retried, and fails the run
 *     with exit 3 naming the step
 *   - `ct store gc` (a dry run) sees which steps the run uses: kept with the run, listed without it
 *   - a worker SIGKILLed mid-step has its job delivered again to the other, which resumes the
 *     training from the checkpoints the store kept
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectQueue, openNatsStore, openQueue, readPack, runJobsId } from '@circuit-tuning/pipeline';
import { NATS_MISSING, type NatsServer, natsServerBinary, startNatsServer } from '../../../packages/pipeline/test/nats-server';
import { type CliResult, runCli, startCli } from './cli-process';

const pipeline = fileURLToPath(new URL('./pipelines/foreach-tiny.yaml', import.meta.url));
const STEPS = ['tasks', 'pretrain', 'tune-top-4', 'tune-top-8', 'tune-top-16', 'full', 'tuning-curve'];
const MEMBERS = ['tune-top-4', 'tune-top-8', 'tune-top-16'];

interface RunJson {
  status: string;
  steps: { id: string; status: string; ranOn?: string; reusedFrom?: string; error?: { kind: string; message: string } }[];
}
interface Manifest {
  configHash: string;
  outputs: { port: string; sha256: string }[];
}

const readJson = async <T>(path: string) => JSON.parse(await readFile(path, 'utf8')) as T;

if (natsServerBinary() === undefined) {
  describe.skip(NATS_MISSING, () => undefined);
} else {
  let dir: string;
  let server: NatsServer;
  const workers: { name: string; child: ChildProcess; done: Promise<CliResult> }[] = [];
  const queued = (extra: readonly string[], runDir: string, timeoutMs = 120_000) =>
    startCli(['run', pipeline, '--run-dir', runDir, '--executor', 'queue', '--queue', server.url, '--timeout', '100', ...extra], { timeoutMs });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ct-run-queue-'));
    server = await startNatsServer();
    for (const name of ['worker-a', 'worker-b']) workers.push({ name, ...startCli(['worker', '--queue', server.url, '--work-dir', join(dir, name)], { timeoutMs: 280_000 }) });
    // Both take jobs before the first run queues any (a busy machine could leave one to take them all).
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            let seen = '';
            const timer = setTimeout(() => reject(new Error(`${w.name} not ready after 60 s:\n${seen}`)), 60_000);
            w.child.stderr?.on('data', (chunk: Buffer | string) => {
              seen += String(chunk);
              if (seen.includes('taking trials from')) {
                clearTimeout(timer);
                resolve();
              }
            });
          }),
      ),
    );
  }, 90_000);
  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.done));
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  describe('ct run --executor queue', () => {
    it('runs the foreach members on the workers and ends with the run directory of a local run; ct verify passes', async () => {
      const local = await runCli(['run', pipeline, '--run-dir', join(dir, 'local'), '--quiet'], { timeoutMs: 120_000 });
      expect(local.code, local.stderr).toBe(0);
      const remote = await queued([], join(dir, 'queued')).done;
      expect(remote.code, remote.stderr).toBe(0);
      expect(remote.stderr).toMatch(/queued for the workers \(jobs foreach-tiny-[0-9a-f]{12}\): tune-top-4, tune-top-8, tune-top-16/);

      const run = await readJson<RunJson>(join(dir, 'queued', 'run.json'));
      expect(run.status).toBe('succeeded');
      expect(run.steps.map((s) => s.id)).toEqual(STEPS);
      expect(run.steps.map((s) => s.status)).toEqual(Array(STEPS.length).fill('succeeded'));
      const names = new Set(workers.map((w) => `${w.child.pid}`));
      for (const step of run.steps) {
        // The members ran on a worker (host:pid of a `ct worker`'s job), the other steps here.
        if (MEMBERS.includes(step.id)) expect(names.has(step.ranOn?.split(':').pop() ?? ''), `${step.id} ran on ${step.ranOn}`).toBe(true);
        else expect(step.ranOn, step.id).toBeUndefined();
      }
      // The same steps, configs and outputs as the local run: every hash equal, except the training
      // logs, whose step_ms column is wall-clock time (and the curve's run index, which lists their hashes).
      for (const id of STEPS) {
        const [a, b] = await Promise.all([readJson<Manifest>(join(dir, 'local', id, 'manifest.json')), readJson<Manifest>(join(dir, 'queued', id, 'manifest.json'))]);
        expect(b.configHash, id).toBe(a.configHash);
        const hashes = (m: Manifest) => m.outputs.filter((o) => o.port !== 'train_log').map((o) => `${o.port}:${o.sha256}`);
        expect(hashes(b), id).toEqual(hashes(a));
        expect(b.outputs.map((o) => o.port), id).toEqual(a.outputs.map((o) => o.port));
      }

      const verify = await runCli(['verify', join(dir, 'queued'), '--work', join(dir, 'verify'), '--json', '--quiet'], { timeoutMs: 120_000 });
      expect(verify.code, verify.stderr + verify.stdout).toBe(0);
      expect((JSON.parse(verify.stdout) as { reproduced: boolean }).reproduced).toBe(true);

      // The store knows what the run uses (its reference, refs/<run's job id>): a dry-run store gc
      // that keeps the run leaves its seven steps, one that keeps nothing would remove them.
      const runId = runJobsId('foreach-tiny', join(dir, 'queued'));
      type Gc = { items: { key: string; bytes: number }[]; removed: boolean; bytes: number };
      const gc = async (...extra: string[]) => {
        const result = await runCli(['store', 'gc', '--queue', server.url, '--older-than', '0s', '--json', ...extra], { timeoutMs: 60_000 });
        expect(result.code, result.stderr).toBe(0);
        return JSON.parse(result.stdout) as Gc;
      };
      const keeping = await gc('--keep', runId);
      expect(keeping.removed).toBe(false);
      expect(keeping.items.filter((i) => i.key.startsWith('steps/'))).toEqual([]);
      const dropping = await gc();
      expect(dropping.items.filter((i) => i.key.startsWith('steps/'))).toHaveLength(STEPS.length);
      expect(dropping.items.map((i) => i.key)).toContain(`refs/${runId}`);
      expect(dropping.bytes).toBeGreaterThan(0);

      // The queue's address is in no file of the run directory.
      const files = (await readdir(join(dir, 'queued'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile() && !/\.(arrow|safetensors)$/.test(e.name));
      for (const f of files) expect(await readFile(join(f.parentPath, f.name), 'utf8'), join(f.parentPath, f.name)).not.toContain(`127.0.0.1:${server.port}`);
    }, 280_000);

    it('reruns a SIGKILLed coordinator without queueing a step twice: finished steps come from the store', async () => {
      // Another seed: steps of their own, none in the store yet.
      const runDir = join(dir, 'killed');
      const first = queued(['--seed', '11'], runDir);
      await new Promise<void>((resolve, reject) => {
        let said = '';
        const timer = setTimeout(() => reject(new Error(`the run queued nothing within 60 s:\n${said}`)), 60_000);
        first.child.stderr?.on('data', (chunk: Buffer | string) => {
          said += String(chunk);
          if (said.includes('queued for the workers')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      first.child.kill('SIGKILL');
      await first.done;
      const rerun = await queued(['--seed', '11'], runDir).done;
      expect(rerun.code, rerun.stderr).toBe(0);
      // Each member was either finished (in the store) or still out (waited for); none queued again.
      expect(rerun.stderr).not.toMatch(/queued for the workers/);
      expect(rerun.stderr).toMatch(/in the store already: |waited for: /);
      const run = await readJson<RunJson>(join(runDir, 'run.json'));
      // What the killed run had finished is reused; the members were computed for this run, by its jobs.
      expect(run.steps.map((s) => s.status)).toEqual(['cached', 'cached', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);
      for (const id of MEMBERS) expect(run.steps.find((s) => s.id === id)?.ranOn, id).toMatch(/:\d+$/);
      // Every job of the run was delivered once.
      const connection = await connectQueue(server.url);
      try {
        const states = await (await openQueue(connection)).states(runJobsId('foreach-tiny', runDir));
        expect(states.map((s) => [s.name, s.state, s.attempt])).toEqual(MEMBERS.map((m) => [m, 'succeeded', 1]));
      } finally {
        await connection.drain();
      }
    }, 200_000);

    it('fails the run naming the member whose config is wrong, which is not retried (exit 3)', async () => {
      // Resolves (seqLen is a valid setting) but fails when the step runs: the model has 32 positions.
      const bad = await queued(['--set', 'tune-top-8.config.seqLen=64', '--seed', '12'], join(dir, 'bad')).done;
      expect(bad.code, bad.stderr).toBe(3);
      expect(bad.stderr).toMatch(/error: step 'tune-top-8' failed on \S+ \(delivery 1\): .*seqLen 64 is longer than the model's 32 positions/);
      const run = await readJson<RunJson>(join(dir, 'bad', 'run.json'));
      const status = Object.fromEntries(run.steps.map((s) => [s.id, s.status]));
      expect(status).toMatchObject({ tasks: 'succeeded', pretrain: 'succeeded', 'tune-top-4': 'succeeded', 'tune-top-8': 'failed', full: 'skipped', 'tuning-curve': 'skipped' });
      expect(run.steps.find((s) => s.id === 'tune-top-8')?.error?.kind).toBe('config');
    }, 150_000);

    // Last: it kills one of the two workers.
    it('finishes on the other worker the step of a worker SIGKILLed mid-training, from the checkpoints in the store', async () => {
      const runDir = join(dir, 'worker-killed');
      // One long member (80 steps, a checkpoint every 2); a silent worker's job returns after 3 s.
      const run = queued(['--only', 'tune-top-4', '--set', 'tune-top-4.config.steps=80', '--seed', '13', '--ack-wait', '3'], runDir, 150_000);
      const pid = await new Promise<number>((resolve, reject) => {
        let said = '';
        const timer = setTimeout(() => reject(new Error(`tune-top-4 did not start on a worker within 60 s:\n${said}`)), 60_000);
        run.child.stderr?.on('data', (chunk: Buffer | string) => {
          said += String(chunk);
          const started = /tune-top-4 running on \S+:(\d+)/.exec(said);
          if (started !== null) {
            clearTimeout(timer);
            resolve(Number(started[1]));
          }
        });
      });
      const victim = workers.find((w) => w.child.pid === pid);
      expect(victim, `worker ${pid}`).toBeDefined();
      // Killed once the store holds a snapshot of its training with a checkpoint past step 10.
      const connection = await connectQueue(server.url);
      try {
        const store = await openNatsStore(connection, server.url);
        const deadline = Date.now() + 60_000;
        let snapshot = false;
        while (!snapshot) {
          if (Date.now() > deadline) throw new Error('no checkpoint of the running step reached the store within 60 s');
          for (const key of await store.list('partial/')) {
            const bytes = await store.get(key).catch(() => undefined);
            const pack = bytes === undefined ? undefined : await readPack(bytes, key).catch(() => undefined);
            if (pack?.files.some((f) => /checkpoints\/step-00000(1[0-9]|[2-7][0-9])\//.test(f.path))) snapshot = true;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        victim?.child.kill('SIGKILL');
        const result = await run.done;
        expect(result.code, result.stderr).toBe(0);
        const step = (await readJson<RunJson>(join(runDir, 'run.json'))).steps.find((s) => s.id === 'tune-top-4');
        expect(step?.status).toBe('succeeded');
        expect(step?.ranOn).not.toMatch(new RegExp(`:${pid}$`));
        const summary = (await readJson<{ summary: { steps: number; resumedFrom: number } }>(join(runDir, 'tune-top-4', 'manifest.json'))).summary;
        expect(summary.steps).toBe(80);
        expect(summary.resumedFrom).toBeGreaterThanOrEqual(10);
        const [state] = await (await openQueue(connection)).states(runJobsId('foreach-tiny', runDir));
        expect([state?.name, state?.state, state?.attempt]).toEqual(['tune-top-4', 'succeeded', 2]);
      } finally {
        await connection.drain();
      }
    }, 200_000);
  });
}
