/**
 * What a stage run may touch in its directory (issue 14, findings 9 and 10): a directory no stage
 * made is refused or written beside, never cleared; a second process is refused by the lock; what
 * a killed run left (its lock, its temps) is removed and said; an input a stage wrote is checked
 * against the hash its manifest records.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactError, ConfigError } from '@circuit-tuning/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeArrowTable } from '../arrow/write';
import { DemoValues, demoDouble } from './demo-stages.fixture';
import type { StageEvent } from './reporter';
import { type RunStageOptions, runStage } from './runner';
import { STAGE_LOCK_FILE } from './stage-dir';

let root: string;
let valuesPath: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ct-stage-dir-'));
  valuesPath = join(root, 'values.arrow');
  await writeArrowTable(valuesPath, DemoValues, { id: ['a', 'b', 'c'], value: [1, 2.5, -4] }, { producer: 'test' });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function run(stageDir: string, options: Partial<RunStageOptions> = {}, events: StageEvent[] = []) {
  return runStage(demoDouble, { stageDir, inputs: { values: valuesPath }, reporter: (e) => void events.push(e), ...options });
}

/** A pid that certainly belonged to a process of this host that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('the stage directory', () => {
  it('refuses a directory a stage did not make, and clears nothing in it', async () => {
    const dir = join(root, 'mine');
    await mkdir(dir);
    await writeFile(join(dir, 'doubled.arrow'), 'my own file');
    const error = await run(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`${dir} exists and was not made by a stage`);
    expect(await readFile(join(dir, 'doubled.arrow'), 'utf8')).toBe('my own file');
    expect(await readdir(dir)).toEqual(['doubled.arrow']);
  });

  it('with allowExistingDir writes beside the files there, and refuses to overwrite one', async () => {
    const dir = join(root, 'shared');
    await mkdir(dir);
    await writeFile(join(dir, 'notes.txt'), 'keep');
    await run(dir, { allowExistingDir: true });
    expect((await readdir(dir)).sort()).toEqual(['doubled.arrow', 'log.jsonl', 'manifest.json', 'notes.txt', 'stats.json']);
    const other = join(root, 'other');
    await mkdir(other);
    await writeFile(join(other, 'stats.json'), '{"mine": true}');
    await expect(run(other, { allowExistingDir: true })).rejects.toThrow(/would overwrite files it did not write: .*stats\.json/);
    expect(await readFile(join(other, 'stats.json'), 'utf8')).toBe('{"mine": true}');
  });

  it('is locked while a stage runs there: a live owner is named, a dead one is replaced and said', async () => {
    const dir = join(root, 'locked');
    await mkdir(dir);
    // The parent of this test process is alive and on this host.
    await writeFile(join(dir, STAGE_LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), startedAt: 'then', purpose: 'stage x:y' }));
    await expect(run(dir)).rejects.toThrow(new RegExp(`is in use by process ${process.ppid} on ${hostname()} \\(stage x:y`));
    expect(existsSync(join(dir, 'manifest.json'))).toBe(false);

    const dead = deadPid();
    await writeFile(join(dir, STAGE_LOCK_FILE), JSON.stringify({ pid: dead, host: hostname(), startedAt: 'then', purpose: 'stage x:y' }));
    const events: StageEvent[] = [];
    await run(dir, {}, events);
    expect(events.some((e) => e.type === 'log' && e.level === 'warn' && e.message.includes(`removed the lock of process ${dead}`))).toBe(true);
    // Released at the end.
    expect(existsSync(join(dir, STAGE_LOCK_FILE))).toBe(false);
  });

  it('removes the temp files and half-written folders a killed run left, and says so', async () => {
    const dir = join(root, 'killed');
    await run(dir);
    const dead = deadPid();
    const temps = [`.doubled.arrow.${dead}.0a1b2c.tmp`, `.model.safetensors.tmp-${dead}-0a1b`];
    for (const name of temps) await writeFile(join(dir, name), 'x'.repeat(100));
    await mkdir(join(dir, 'checkpoints', `step-0000004.tmp-${dead}`), { recursive: true });
    await writeFile(join(dir, 'checkpoints', `step-0000004.tmp-${dead}`, 'model.safetensors'), 'y'.repeat(50));
    // A temp of a live process and a user's file that merely looks similar stay.
    const live = `.stats.json.${process.ppid}.0a1b2c.tmp`;
    await writeFile(join(dir, live), 'live');
    await writeFile(join(dir, `notes.tmp-${dead}`), 'mine');
    const events: StageEvent[] = [];
    await run(dir, { force: true }, events);
    const said = events.find((e) => e.type === 'log' && e.message.startsWith('removed 3 temporary file(s) of a killed run (250 bytes)'));
    expect(said, JSON.stringify(events)).toBeDefined();
    for (const name of temps) expect(existsSync(join(dir, name))).toBe(false);
    expect(await readdir(join(dir, 'checkpoints'))).toEqual([]);
    expect(existsSync(join(dir, live))).toBe(true);
    expect(existsSync(join(dir, `notes.tmp-${dead}`))).toBe(true);
  });
});

describe('an input a stage wrote', () => {
  it('is refused when its bytes differ from the sha256 in the manifest beside it (a corrupted body, footer intact)', async () => {
    const producer = join(root, 'producer');
    await run(producer);
    const table = join(producer, 'doubled.arrow');
    const bytes = await readFile(table);
    // The float32 5 (2.5 doubled) lies in the record batch's body, far from the footer.
    const at = bytes.indexOf(Buffer.from(new Float32Array([5]).buffer));
    expect(at).toBeGreaterThan(0);
    bytes[at + 3] = (bytes[at + 3] as number) ^ 0x01;
    await writeFile(table, bytes);
    const error = await runStage(demoDouble, { stageDir: join(root, 'consumer'), inputs: { values: table }, reporter: () => undefined }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as ArtifactError).file).toBe(table);
    expect((error as Error).message).toMatch(/differs from what demo:double wrote .*producer\/manifest\.json records/);
    expect(existsSync(join(root, 'consumer', 'manifest.json'))).toBe(false);
  });

  it('is used when it is intact, or when no stage manifest lies beside it', async () => {
    const producer = join(root, 'producer');
    await run(producer);
    const result = await runStage(demoDouble, { stageDir: join(root, 'consumer'), inputs: { values: join(producer, 'doubled.arrow') }, reporter: () => undefined });
    expect(result.manifest.status).toBe('succeeded');
  });
});
