/**
 * Every case of bad-input-cases.ts, run as a user runs it: the CLI in a child process. Each must
 * print its error (no stack trace), exit with its code, leave every sentinel file as it was and
 * make none of its `absent` paths.
 * The README's "bad input" table must be the one scripts/bad-input-table.ts prints from the cases.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAD_INPUT_CASES, badInputTable, readmeSection } from './bad-input-cases';
import { type CliResult, runCli } from './cli-process';

// No case may hang: a minute is twenty times what the slowest takes.
const cli = (args: string[], cwd: string) => runCli(args, { cwd, timeoutMs: 60_000 });

/** What one case did: the CLI's result, and whether each sentinel survived unchanged. */
interface Outcome {
  result: CliResult;
  sentinels: { path: string; text: string; exists: boolean; after: string | undefined }[];
  /** The case's `absent` paths that exist afterwards. */
  made: string[];
}

async function runCase(index: number): Promise<Outcome> {
  const c = BAD_INPUT_CASES[index] as (typeof BAD_INPUT_CASES)[number];
  const dir = join(root, `case-${index}`);
  await mkdir(dir);
  const { args, cwd } = await c.setup(dir, { cli: (a, o) => cli(a, o?.cwd ?? dir) });
  const sentinels = Object.entries(c.sentinels ?? {});
  for (const [path, text] of sentinels) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const result = await cli(args, cwd ?? dir);
  return {
    result,
    sentinels: await Promise.all(
      sentinels.map(async ([path, text]) => {
        const exists = existsSync(join(dir, path));
        return { path, text, exists, after: exists ? await readFile(join(dir, path), 'utf8') : undefined };
      }),
    ),
    made: (c.absent ?? []).filter((path) => existsSync(join(dir, path))),
  };
}

/**
 * Most of a case's time is the CLI starting (tsx, tfjs, the native backend), so while one case's
 * test waits for its CLI, the next case already runs: two at a time, for the machine's two cores.
 */
const PARALLEL_CASES = 2;
const outcomes = new Map<number, Promise<Outcome>>();

function outcomeOf(index: number): Promise<Outcome> {
  let outcome = outcomes.get(index);
  if (outcome === undefined) {
    outcome = runCase(index);
    // Its test awaits it later; until then a failure is held, not reported as unhandled.
    outcome.catch(() => undefined);
    outcomes.set(index, outcome);
  }
  return outcome;
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ct-bad-input-'));
});
afterAll(async () => {
  // A case started ahead of a failed or filtered-out test may still run: let it end before its files go.
  await Promise.allSettled(outcomes.values());
  await rm(root, { recursive: true, force: true });
});

describe('bad input on the command line', () => {
  it.each(BAD_INPUT_CASES.map((c, i) => [`${c.finding} ${c.input}`, i] as const))('%s', async (_name, index) => {
    const c = BAD_INPUT_CASES[index] as (typeof BAD_INPUT_CASES)[number];
    for (let ahead = index + 1; ahead < Math.min(index + PARALLEL_CASES, BAD_INPUT_CASES.length); ahead++) outcomeOf(ahead);
    const { result, sentinels, made } = await outcomeOf(index);
    for (const { path, text, exists, after } of sentinels) {
      expect(exists, `${path} survives`).toBe(true);
      expect(after).toBe(text);
    }
    expect(made, 'written though the command failed').toEqual([]);
    expect(result.stderr).toContain(`error: `);
    expect(result.stderr).toContain(c.message);
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(result.code, result.stderr).toBe(c.exitCode);
  });

  it("the README's bad-input table is the one generated from these cases", () => {
    const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
    const section = readmeSection(readme);
    expect(section, 'README.md has a <!-- bad-input:start --> ... <!-- bad-input:end --> section').toBeDefined();
    expect(section, 'run: pnpm --filter @circuit-tuning/cli bad-input-table --write').toBe(badInputTable());
  });
});
