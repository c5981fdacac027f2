import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@circuit-tuning/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from './lock-file';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const deadPid = () => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);

describe('acquireLock', () => {
  it('is exclusive: of many concurrent takers exactly one gets it, the others are told who holds it', async () => {
    const path = join(dir, 'lock');
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => acquireLock(path, 'test')));
    const held = results.filter((r) => r.status === 'fulfilled');
    expect(held).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') {
        expect(r.reason).toBeInstanceOf(ConfigError);
        expect((r.reason as Error).message).toContain(`is in use by process ${process.pid} on ${hostname()} (test, since `);
      }
    }
    const owner = JSON.parse(await readFile(path, 'utf8')) as { pid: number; host: string };
    expect(owner).toMatchObject({ pid: process.pid, host: hostname() });
    await (held[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release();
    expect(existsSync(path)).toBe(false);
  });

  it('takes over the lock of a dead process of this host and says whose it was', async () => {
    const path = join(dir, 'lock');
    const dead = deadPid();
    await writeFile(path, JSON.stringify({ pid: dead, host: hostname(), startedAt: 'then', purpose: 'ct run' }));
    const lock = await acquireLock(path, 'test');
    expect(lock.replaced).toMatchObject({ pid: dead, host: hostname() });
    await lock.release();
    // The lock of a run from before locks were JSON (the pid alone) counts too.
    await writeFile(path, `${dead}\n`);
    expect((await acquireLock(path, 'test')).replaced?.pid).toBe(dead);
  });

  it('never takes over the lock of another host (its pid cannot be checked from here)', async () => {
    const path = join(dir, 'lock');
    await writeFile(path, JSON.stringify({ pid: deadPid(), host: 'elsewhere', startedAt: 'then', purpose: 'ct run' }));
    await expect(acquireLock(path, 'test')).rejects.toThrow(/in use by process \d+ on elsewhere/);
  });
});
