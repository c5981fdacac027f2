/**
 * Bad input given to the command line, one entry per case: what the user gave, the command, a
 * fragment of the error it must print and the exit code. bad-input.test.ts runs every case in a
 * child process; scripts/bad-input-table.ts prints the list as the README's "bad input" table.
 * Adding a case is adding one entry here (then `pnpm --filter @circuit-tuning/cli bad-input-table
 * --write` updates the README).
 *
 * A case builds its files in a fresh directory. `sentinels` are files written after the setup,
 * most of them outside the run; each must survive the command unchanged.
 */
import { cp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CaseTools {
  /** Runs the CLI (in a child process, working directory `cwd` or the case's directory). */
  cli(args: string[], options?: { cwd?: string }): Promise<CliResult>;
}

export interface BadInputCase {
  /** What the user gave, as the README says it. */
  input: string;
  /** The command as a user types it; DIR, RUN, FILE stand for the case's own paths. */
  command: string;
  /** Makes the case's files in `dir` and returns the CLI's arguments (and where it runs). */
  setup(dir: string, tools: CaseTools): Promise<{ args: string[]; cwd?: string }>;
  /** A fragment of the message on stderr (after `error: `). */
  message: string;
  exitCode: number;
  /** Relative path → content, written after the setup; every one must be there unchanged afterwards. */
  sentinels?: Readonly<Record<string, string>>;
  /** Where it came from (issue and finding). */
  finding: string;
}

/** A pipeline of one cheap step (the embedded world's task data at toy sizes). */
export const TASKS_PIPELINE = `name: tasks-only
backend: cpu
steps:
  tasks:
    stage: tasks:generate
    config:
      tasks: [sv-disagreement]
      corpus: { tokens: 2000, devDocuments: 10 }
      sizes: { svAgreement: { train: 40, dev: 8, test: 8 }, svDisagreementTrain: { train: 20, dev: 4, test: 4 } }
`;

async function file(path: string, text: string): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
  return path;
}

/** One finished run of TASKS_PIPELINE per directory of cases, copied for each case that needs one. */
const templates = new Map<string, Promise<string>>();

/** A finished run of TASKS_PIPELINE in `dir/run` (and its pipeline in `dir/tasks.yaml`). */
async function finishedRun(dir: string, tools: CaseTools): Promise<string> {
  const pipeline = await file(join(dir, 'tasks.yaml'), TASKS_PIPELINE);
  const parent = join(dir, '..');
  if (!templates.has(parent)) {
    templates.set(
      parent,
      (async () => {
        const template = join(parent, 'finished-run');
        const result = await tools.cli(['run', pipeline, '--run-dir', template, '--quiet']);
        if (result.code !== 0) throw new Error(`the setup run failed: ${result.stderr}`);
        return template;
      })(),
    );
  }
  const run = join(dir, 'run');
  await cp(await (templates.get(parent) as Promise<string>), run, { recursive: true });
  return run;
}

/** A file of the user's inside a finished run's directory. */
const RUN_SENTINEL = { 'run/notes.txt': 'my notes, beside the run' };

export const BAD_INPUT_CASES: readonly BadInputCase[] = [
  {
    input: 'a `foreach` item that climbs out of the run directory (`foreach: [/../../../victim]`)',
    command: 'pnpm ct run FILE.yaml --run-dir DIR/a/b/run',
    async setup(dir) {
      const text = TASKS_PIPELINE.replace('    stage: tasks:generate\n', "    stage: tasks:generate\n    foreach: ['/../../../victim']\n");
      return { args: ['run', await file(join(dir, 'climb.yaml'), text), '--run-dir', join(dir, 'a', 'b', 'run')] };
    },
    message: 'foreach item "/../../../victim" would make step id "tasks-/../../../victim", which is not valid',
    exitCode: 3,
    sentinels: { 'a/victim/file.txt': 'data', 'a/victim/sub/more.txt': 'more data' },
    finding: '#14.1',
  },
  {
    input: 'a pipeline `name:` that would move the default run directory `runs/NAME` out of `runs/` (`name: ../../../x`)',
    command: 'pnpm ct run FILE.yaml',
    async setup(dir) {
      const text = TASKS_PIPELINE.replace('name: tasks-only', 'name: ../../../x');
      const cwd = join(dir, 'a', 'b', 'c');
      await mkdir(cwd, { recursive: true });
      return { args: ['run', await file(join(dir, 'named.yaml'), text)], cwd };
    },
    message: 'pipeline name "../../../x" is not valid',
    exitCode: 3,
    sentinels: { 'a/x/tasks/keep.txt': 'data' },
    finding: '#14.2',
  },
  {
    input: '`--run-dir` a folder that circuit-tuning did not make (with a subfolder named like a step)',
    command: 'pnpm ct run FILE.yaml --run-dir DIR',
    async setup(dir) {
      return { args: ['run', await file(join(dir, 'tasks.yaml'), TASKS_PIPELINE), '--run-dir', join(dir, 'mine')] };
    },
    message: 'exists and was not made by circuit-tuning (it holds files that no run writes); nothing in it is deleted',
    exitCode: 3,
    sentinels: { 'mine/tasks/spreadsheet.csv': 'a,b\n1,2\n' },
    finding: '#14.2',
  },
  {
    input: 'the same with `--allow-existing-dir`: the step-named subfolder is still not touched',
    command: 'pnpm ct run FILE.yaml --run-dir DIR --allow-existing-dir',
    async setup(dir) {
      return { args: ['run', await file(join(dir, 'tasks.yaml'), TASKS_PIPELINE), '--run-dir', join(dir, 'mine'), '--allow-existing-dir'] };
    },
    message: 'exists in the run directory but was not made by a step (no manifest.json); nothing in it is deleted',
    exitCode: 3,
    sentinels: { 'mine/tasks/spreadsheet.csv': 'a,b\n1,2\n' },
    finding: '#14.2',
  },
  {
    input: 'a step directory in the run that is a symbolic link out of it',
    command: 'pnpm ct run FILE.yaml --run-dir RUN --force',
    async setup(dir, tools) {
      const run = await finishedRun(dir, tools);
      await rm(join(run, 'tasks'), { recursive: true });
      await mkdir(join(dir, 'elsewhere'));
      await symlink(join(dir, 'elsewhere'), join(run, 'tasks'));
      return { args: ['run', join(dir, 'tasks.yaml'), '--run-dir', run, '--force', '--quiet'] };
    },
    message: "the directory of step 'tasks', leads out of the run directory (a symbolic link to",
    exitCode: 3,
    sentinels: { 'elsewhere/manifest.json': '{"mine": true}', 'elsewhere/data.csv': 'a,b' },
    finding: '#14.2',
  },
  {
    input: '`ct stage --out` a folder that no stage made',
    command: 'pnpm ct stage tasks:generate --out DIR',
    async setup(dir) {
      return { args: ['stage', 'tasks:generate', '--out', join(dir, 'mine'), '--quiet'] };
    },
    message: 'exists and was not made by a stage (it has no manifest.json); nothing in it is overwritten or deleted',
    exitCode: 3,
    sentinels: { 'mine/world.json': '{"mine": true}' },
    finding: '#14.2',
  },
  {
    input: '`ct sweep --out` a folder that holds files a sweep did not write',
    command: 'pnpm ct sweep FILE.yaml --grid seed=1,2 --out DIR',
    async setup(dir) {
      return { args: ['sweep', await file(join(dir, 'tasks.yaml'), TASKS_PIPELINE), '--grid', 'seed=1,2', '--out', join(dir, 'mine')] };
    },
    message: 'exists and holds what a sweep did not write (results.csv); nothing in it is overwritten or deleted',
    exitCode: 3,
    sentinels: { 'mine/results.csv': 'a,b\n1,2\n' },
    finding: '#14.2',
  },
  {
    input: '`ct verify --work` the run being verified',
    command: 'pnpm ct verify RUN --work RUN',
    async setup(dir, tools) {
      const run = await finishedRun(dir, tools);
      return { args: ['verify', run, '--work', run, '--quiet'] };
    },
    message: 'overlaps the run being verified',
    exitCode: 3,
    sentinels: RUN_SENTINEL,
    finding: '#14.3',
  },
  {
    input: '`ct verify --work` a folder that contains the run',
    command: 'pnpm ct verify DIR/run --work DIR',
    async setup(dir, tools) {
      const run = await finishedRun(dir, tools);
      return { args: ['verify', run, '--work', dir, '--quiet'] };
    },
    message: 'overlaps the run being verified',
    exitCode: 3,
    sentinels: { ...RUN_SENTINEL, 'other.txt': 'beside the run' },
    finding: '#14.3',
  },
  {
    input: '`ct verify --work` a folder verify did not make',
    command: 'pnpm ct verify RUN --work DIR',
    async setup(dir, tools) {
      const run = await finishedRun(dir, tools);
      return { args: ['verify', run, '--work', join(dir, 'mine'), '--quiet'] };
    },
    message: 'exists and is not a rerun made by verify; nothing in it is deleted',
    exitCode: 3,
    sentinels: { ...RUN_SENTINEL, 'mine/results.txt': 'keep' },
    finding: '#14.3',
  },
  {
    input: '`--run-dir` a run directory that another live process is running in (its lock names the process and host)',
    command: 'pnpm ct run FILE.yaml --run-dir RUN',
    async setup(dir, tools) {
      const run = await finishedRun(dir, tools);
      // The test's own process: alive, on this host.
      await file(join(run, '.pipeline', 'lock'), JSON.stringify({ pid: process.pid, host: hostname(), startedAt: 'now', purpose: 'ct run tasks-only' }));
      return { args: ['run', join(dir, 'tasks.yaml'), '--run-dir', run, '--quiet', '--force'] };
    },
    message: 'is in use by process',
    exitCode: 3,
    sentinels: RUN_SENTINEL,
    finding: '#14.10',
  },
  {
    input: '`ct stage` into a stage directory another live process is running in',
    command: 'pnpm ct stage tasks:generate --out DIR',
    async setup(dir, tools) {
      const run = await finishedRun(dir, tools);
      await file(join(run, 'tasks', '.lock'), JSON.stringify({ pid: process.pid, host: hostname(), startedAt: 'now', purpose: 'stage tasks:generate' }));
      return { args: ['stage', 'tasks:generate', '--out', join(run, 'tasks'), '--force', '--quiet'] };
    },
    message: 'is in use by process',
    exitCode: 3,
    finding: '#14.10',
  },
  {
    input: 'a YAML alias bomb ("billion laughs") in a pipeline file',
    command: 'pnpm ct run FILE.yaml',
    async setup(dir) {
      const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
      for (let i = 1; i < 9; i++) lines.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(9).fill(`*${'abcdefghi'[i - 1]}`).join(', ')}]`);
      return { args: ['run', await file(join(dir, 'bomb.yaml'), `${lines.join('\n')}\nsteps: {}\n`), '--run-dir', join(dir, 'run')] };
    },
    message: 'bomb.yaml: invalid YAML: Excessive alias count indicates a resource exhaustion attack',
    exitCode: 3,
    finding: '#14.11',
  },
  {
    input: 'an Arrow table a stage wrote, its body corrupted (footer intact), given to `ct stage`',
    command: 'pnpm ct stage discover:eap --in prompts=RUN/tasks/sv_disagreement.arrow --in model=MODEL',
    async setup(dir, tools) {
      const run = await finishedRun(dir, tools);
      const table = join(run, 'tasks', 'sv_disagreement.arrow');
      const bytes = await readFile(table);
      // A letter of a prompt's text: inside a data buffer, far from the schema and the footer.
      const at = bytes.indexOf(Buffer.from('the '), Math.floor(bytes.length / 4));
      if (at < 0) throw new Error('no text to corrupt');
      bytes[at] = 'T'.charCodeAt(0);
      await writeFile(table, bytes);
      const model = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'models', 'tiny-random-gpt2');
      return { args: ['stage', 'discover:eap', '--in', `prompts=${table}`, '--in', `model=${model}`, '--out', join(dir, 'discover'), '--quiet'] };
    },
    message: 'differs from what tasks:generate wrote',
    exitCode: 5,
    finding: '#14.9',
  },
];

/** The README's bad-input table (Markdown), one row per case. */
export function badInputTable(cases: readonly BadInputCase[] = BAD_INPUT_CASES): string {
  const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const rows = cases.map((c) => `| ${cell(c.input)} | \`${cell(c.command)}\` | ${cell(c.message)} | ${c.exitCode} |`);
  return ['| input | command | error (excerpt) | exit code |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

export const README_START = '<!-- bad-input:start -->';
export const README_END = '<!-- bad-input:end -->';

/** The table between the README's markers, or undefined when they are missing. */
export function readmeSection(readme: string): string | undefined {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) return undefined;
  return readme.slice(start + README_START.length, end).trim();
}
