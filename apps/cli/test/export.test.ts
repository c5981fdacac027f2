/**
 * `ct export`: a table with lists, nulls, a comma and quotes in its text, through the CLI into
 * CSV, JSON lines and Parquet, read back by an independent reader (nodejs-polars for Parquet and
 * CSV) with the same values; a run's table named by step.port; refusals.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PromptsTable } from '@circuit-tuning/contracts';
import { writeArrowTable } from '@circuit-tuning/runtime';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-process';

let dir: string;
let table: string;
const rows = {
  id: Int32Array.from([0, 1, 2]),
  split: ['train', 'test', 'test'],
  task: ['t', 't', 't'],
  clean_text: ['the key, "old"', 'the keys', 'a\nnew line'],
  clean_ids: [
    [2, 5, 8],
    [2, 5, 9, 11],
    [3, 4],
  ],
  corrupt_text: ['the keys', null, 'b'],
  corrupt_ids: [[2, 5, 9], null, [3, 7]],
  pos: Int32Array.from([2, 3, 1]),
  answer: Int32Array.from([7, 8, 9]),
  foil: Int32Array.from([8, 7, 10]),
  target_text: [null, 'x', 'y'],
  condition: ['', 'attractor', ''],
  group: ['sg', 'pl', ''],
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-export-'));
  table = join(dir, 'prompts.arrow');
  await writeArrowTable(table, PromptsTable, rows, { producer: 'test' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ct export', () => {
  it('writes Parquet that an independent reader reads with the same values, lists and nulls included', async () => {
    const out = join(dir, 'prompts.parquet');
    const result = await runCli(['export', table, '--format', 'parquet', '--out', out], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/wrote 3 rows/);
    const df = pl.readParquet(out);
    expect(df.columns).toEqual(PromptsTable.fields.map((f) => f.name));
    expect(df.getColumn('clean_text').toArray()).toEqual(rows.clean_text);
    expect(df.getColumn('clean_ids').toArray().map((l: unknown) => Array.from(l as ArrayLike<number>, Number))).toEqual(rows.clean_ids);
    expect(df.getColumn('corrupt_ids').toArray()[1]).toBeNull();
    expect(df.getColumn('target_text').toArray()).toEqual(rows.target_text);
    expect(df.getColumn('pos').toArray()).toEqual([2, 3, 1]);
  });

  it('writes CSV (lists as JSON arrays, nulls empty, text quoted where needed) and JSON lines', async () => {
    const csv = join(dir, 'prompts.csv');
    expect((await runCli(['export', table, '--out', csv], { timeoutMs: 60_000 })).code).toBe(0);
    const df = pl.readCSV(await readFile(csv, 'utf8'));
    expect(df.getColumn('clean_text').toArray()).toEqual(rows.clean_text);
    expect(df.getColumn('clean_ids').toArray()).toEqual(['[2,5,8]', '[2,5,9,11]', '[3,4]']);
    expect(df.getColumn('corrupt_text').toArray()[1]).toBeNull();

    const jsonl = await runCli(['export', table, '--format', 'jsonl'], { timeoutMs: 60_000 });
    const parsed = jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toHaveLength(3);
    expect(parsed[1]).toMatchObject({ id: 1, clean_ids: [2, 5, 9, 11], corrupt_ids: null, condition: 'attractor' });
    const json = JSON.parse((await runCli(['export', table, '--format', 'json'], { timeoutMs: 60_000 })).stdout) as { schema: string; rows: unknown[] };
    expect(json.schema).toBe('ct.prompts');
    expect(json.rows).toEqual(parsed);
  });

  it("names a run's table by step.port, and refuses what it cannot do with exit code 3", async () => {
    // A step as a run leaves it (tasks:generate at toy sizes): its manifest lists the outputs.
    const run = join(dir, 'run');
    const made = await runCli(
      ['stage', 'tasks:generate', '--out', join(run, 'tasks'), '--set', 'tasks=[sv-disagreement]', '--set', 'corpus.tokens=2000', '--set', 'corpus.devDocuments=5', '--set', 'sizes.svDisagreementTrain={train: 8, dev: 2, test: 2}', '--set', 'sizes.svAgreement={train: 6, dev: 2, test: 2}'],
      { timeoutMs: 120_000 },
    );
    expect(made.code, made.stderr).toBe(0);
    const viaRun = await runCli(['export', run, 'tasks.sv_disagreement', '--format', 'jsonl'], { timeoutMs: 60_000 });
    expect(viaRun.code, viaRun.stderr).toBe(0);
    expect(viaRun.stdout.trim().split('\n').length).toBe(10);
    expect(JSON.parse(viaRun.stdout.split('\n')[0]!)).toMatchObject({ task: 'sv-disagreement' });

    const refused = async (args: string[], message: RegExp) => {
      const r = await runCli(['export', ...args], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(message);
    };
    await refused([table, '--format', 'xlsx'], /--format xlsx is not one of csv, json, jsonl, parquet/);
    await refused([table, '--format', 'parquet'], /--format parquet needs --out FILE/);
    await refused([join(dir, 'nope.arrow')], /nope\.arrow: no such file/);
    await refused([run, 'tasks.nope'], /step 'tasks' has no output 'nope' \(outputs: .*sv_disagreement/);
    await refused([run, 'nostep.edges'], /has no step 'nostep'/);
    await refused([run], /is a directory/);
    await refused([table, '--out', join(dir, 'prompts.csv')], /prompts\.csv exists; it is not replaced/);
  });
});
