/**
 * Sweeps over several machines, as users run them: the real nats-server on a free loopback port
 * (packages/pipeline/test/nats-server.ts; .ci/run installs it), `ct worker` processes each with its
 * own working directory, and `ct sweep --executor queue`.
 *
 *   - 6 trials (seed × pretrain steps) over 3 workers give the same table as the local executor,
 *     and the store holds one valid entry per step however the workers raced on the shared ones
 *   - a worker SIGKILLed mid-training has its trial finished by another worker, which resumes from
 *     the checkpoints the store kept (the summary says from which step), and `ct verify` of the
 *     collected trial reproduces it
 *   - a trial whose config is wrong fails once and is not retried; `sweep --status` shows states
 *   - the queue's address is in no file the sweep or the workers wrote
 */
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArtifactStore, connectQueue, openNatsStore, readPack } from '@circuit-tuning/pipeline';
import { NATS_MISSING, type NatsServer, natsServerBinary, startNatsServer } from '../../../packages/pipeline/test/nats-server';
import { type CliResult, runCli, startCli } from './cli-process';

const pipeline = fileURLToPath(new URL('./pipelines/sweep-tiny.yaml', import.meta.url));
const GRID = ['--grid', 'seed=1,2', '--grid', 'pretrain.config.steps=2,4,6'];

interface SweepJson {
  sweepDir: string;
  trials: { name: string; status: string; runDir: string; metrics: Record<string, unknown>; host?: string; backend?: string; attempts?: number; error?: string }[];
}

if (natsServerBinary() === undefined) {
  describe.skip(NATS_MISSING, () => undefined);
} else {
  let dir: string;
  let server: NatsServer;
  let store: ArtifactStore;
  let closeStore: () => Promise<void>;
  const workers: { child: ChildProcess; done: Promise<CliResult> }[] = [];
  const startWorker = (name: string) => {
    const worker = startCli(['worker', '--queue', server.url, '--work-dir', join(dir, name)], { timeoutMs: 170_000 });
    workers.push(worker);
    return worker;
  };
  /** Resolves once the worker says it is taking jobs (so a busy machine cannot leave one worker to take them all). */
  const ready = (worker: { child: ChildProcess }) =>
    new Promise<void>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`worker not ready after 60 s:\n${seen}`)), 60_000);
      worker.child.stderr?.on('data', (chunk: Buffer | string) => {
        seen += String(chunk);
        if (seen.includes('taking trials from')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ct-sweep-queue-'));
    server = await startNatsServer();
    const connection = await connectQueue(server.url);
    store = await openNatsStore(connection, server.url);
    closeStore = () => connection.drain();
  }, 30_000);
  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.done));
    await closeStore?.();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  describe('ct sweep --executor queue', () => {
    it('runs 6 trials over 3 workers with the results of the local executor; racing workers leave one entry per step', async () => {
      // The first sweep on this server sets the queue's terms: a silent worker's job returns after 3 s.
      const queued = (async () => {
        await Promise.all(['worker-a', 'worker-b', 'worker-c'].map((name) => ready(startWorker(name))));
        return runCli(['sweep', pipeline, ...GRID, '--executor', 'queue', '--queue', server.url, '--ack-wait', '3', '--max-deliver', '3', '--timeout', '120', '--out', join(dir, 'queued'), '--json'], {
          timeoutMs: 150_000,
        });
      })();
      const local = await runCli(['sweep', pipeline, ...GRID, '--concurrency', '2', '--out', join(dir, 'local'), '--json'], { timeoutMs: 150_000 });
      expect(local.code, local.stderr).toBe(0);
      const remote = await queued;
      expect(remote.code, remote.stderr).toBe(0);
      const a = JSON.parse(local.stdout) as SweepJson;
      const b = JSON.parse(remote.stdout) as SweepJson;
      expect(b.trials.map((t) => t.name)).toEqual(a.trials.map((t) => t.name));
      expect(b.trials.map((t) => t.status)).toEqual(Array(6).fill('succeeded'));
      for (const [i, trial] of b.trials.entries()) {
        expect(trial.metrics, trial.name).toEqual(a.trials[i]?.metrics);
        expect(trial.metrics['pretrain.steps']).toBe(trial.name.includes('steps=2') ? 2 : trial.name.includes('steps=4') ? 4 : 6);
        expect(trial.backend).toBe('cpu');
        expect(typeof trial.host).toBe('string');
      }
      // The table names where each trial ran.
      const table = await readFile(join(dir, 'queued', 'sweep.tsv'), 'utf8');
      expect(table.split('\n')[0]?.split('\t')).toEqual(expect.arrayContaining(['host', 'backend', 'pretrain.finalLoss']));
      // Every worker ran in its own directory, and between them they ran all six.
      const ran = await Promise.all(['worker-a', 'worker-b', 'worker-c'].map(async (w) => (await readdir(join(dir, w)).catch(() => [])).length));
      expect(ran.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);

      // One entry per distinct step: tasks for 2 seeds, pretrain for 6 trials; each unpacks whole.
      const steps = await store.list('steps/');
      expect(steps).toHaveLength(8);
      for (const key of steps) await readPack((await store.get(key)) as Uint8Array, key);
      expect(await store.list('partial/')).toEqual([]);
      // Whether a trial computed its tasks step or took it from the store, its outputs are the same bytes.
      const seed1 = b.trials.filter((t) => t.name.includes('seed=1'));
      const outputs = await Promise.all(seed1.map(async (t) => JSON.stringify((JSON.parse(await readFile(join(t.runDir, 'tasks', 'manifest.json'), 'utf8')) as { outputs: unknown }).outputs)));
      expect(new Set(outputs).size).toBe(1);
    }, 170_000);

    it('finishes on another worker the trial of a worker SIGKILLed mid-training, from its checkpoints; ct verify reproduces it', async () => {
      // The workers of the test before are done: this test decides who runs its trial.
      for (const w of workers.splice(0)) {
        w.child.kill('SIGTERM');
        await w.done;
      }
      const out = join(dir, 'killed');
      const killed = startWorker('worker-killed');
      const sweep = startCli(['sweep', pipeline, '--grid', 'pretrain.config.steps=200', '--executor', 'queue', '--queue', server.url, '--ack-wait', '3', '--max-deliver', '3', '--timeout', '120', '--out', out, '--json'], { timeoutMs: 150_000 });
      // Wait until the store holds a snapshot of the running training with a few checkpoints in it.
      const deadline = Date.now() + 60_000;
      let partial: string | undefined;
      while (partial === undefined) {
        if (Date.now() > deadline) throw new Error('no checkpoint of the running trial reached the store within 60 s');
        const keys = await store.list('partial/');
        for (const key of keys) {
          const pack = await readPack((await store.get(key)) as Uint8Array, key);
          if (pack.files.some((f) => /checkpoints\/step-00000(1[0-9]|[2-9][0-9])\//.test(f.path))) partial = key;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      killed.child.kill('SIGKILL');
      await killed.done;
      const rescuer = startWorker('worker-rescuer');
      const result = await sweep.done;
      expect(result.code, result.stderr).toBe(0);
      const [trial] = (JSON.parse(result.stdout) as SweepJson).trials;
      expect(trial?.status).toBe('succeeded');
      expect(trial?.attempts).toBe(2);
      expect(trial?.metrics['pretrain.steps']).toBe(200);
      // It resumed: the rescuer started from a checkpoint the killed worker wrote.
      expect(trial?.metrics['pretrain.resumedFrom']).toBeGreaterThanOrEqual(10);
      expect(rescuer.child.exitCode).toBeNull();

      const verify = await runCli(['verify', trial?.runDir as string, '--work', join(dir, 'verify'), '--json', '--quiet'], { timeoutMs: 120_000 });
      expect(verify.code, verify.stderr + verify.stdout).toBe(0);
      expect((JSON.parse(verify.stdout) as { reproduced: boolean }).reproduced).toBe(true);
    }, 170_000);

    it('does not retry a trial whose config is wrong, shows states with --status, and writes the queue address nowhere', async () => {
      const bad = await runCli(
        // A config that resolves (the sweep checks every trial before queueing) but fails when the
        // step runs: a sequence longer than the model's 16 positions.
        ['sweep', pipeline, '--grid', 'pretrain.config.seqLen=64', '--executor', 'queue', '--queue', server.url, '--timeout', '60', '--out', join(dir, 'bad'), '--json'],
        { timeoutMs: 90_000 },
      );
      expect(bad.code).toBe(1);
      const [trial] = (JSON.parse(bad.stdout) as SweepJson).trials;
      expect(trial?.status).toBe('failed');
      expect(trial?.attempts).toBe(1);
      expect(trial?.error).toMatch(/seqLen 64 is longer than the model's 16 positions/);

      const status = await runCli(['sweep', '--status', '--queue', server.url], { timeoutMs: 30_000 });
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/0 job\(s\) waiting for a worker/);
      expect(status.stdout).toMatch(/sweep sweep-tiny-\S+: 6 succeeded/);
      expect(status.stdout).toMatch(/sweep sweep-tiny-\S+: 1 failed/);

      const address = `127.0.0.1:${server.port}`;
      const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile() && !e.name.endsWith('.arrow') && !e.name.endsWith('.safetensors'));
      const holding: string[] = [];
      for (const f of files) if ((await readFile(join(f.parentPath, f.name), 'utf8')).includes(address)) holding.push(join(f.parentPath, f.name));
      expect(holding).toEqual([]);
    }, 120_000);

    it('shares a directory as the artifact store; a worker with another store fails the trial, which is retried on the right one', async () => {
      for (const w of workers.splice(0)) {
        w.child.kill('SIGTERM');
        await w.done;
      }
      const shared = join(dir, 'shared-store');
      // This worker uses the queue server's object store, not the sweep's directory: it must refuse.
      const wrong = startWorker('worker-wrong-store');
      await ready(wrong);
      const sweep = startCli(
        ['sweep', pipeline, '--grid', 'pretrain.config.steps=2,4', '--executor', 'queue', '--queue', server.url, '--store', shared, '--max-deliver', '6', '--timeout', '80', '--out', join(dir, 'shared'), '--json'],
        { timeoutMs: 100_000 },
      );
      let said = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no trial was queued again within 40 s:\n${said}`)), 40_000);
        sweep.child.stderr?.on('data', (chunk: Buffer | string) => {
          said += String(chunk);
          if (said.includes('queued again')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      expect(said).toMatch(/failed on \S+, queued again: .*is not the one sweep \S+ collects from/);
      wrong.child.kill('SIGTERM');
      await wrong.done;
      workers.push(startCli(['worker', '--queue', server.url, '--work-dir', join(dir, 'worker-shared'), '--store', shared], { timeoutMs: 100_000 }));
      const result = await sweep.done;
      expect(result.code, result.stderr).toBe(0);
      const trials = (JSON.parse(result.stdout) as SweepJson).trials;
      expect(trials.map((t) => t.metrics['pretrain.steps'])).toEqual([2, 4]);
      expect(Math.max(...trials.map((t) => t.attempts ?? 0))).toBeGreaterThanOrEqual(2);
      // One tasks step (both trials share it) and two pretrain steps, as files in the directory.
      expect((await readdir(join(shared, 'steps'))).filter((n) => n.endsWith('.pack'))).toHaveLength(3);
      expect(await readdir(join(shared, 'runs'))).toHaveLength(1);
    }, 120_000);
  });
}
