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
import { dirname, join } from 'node:path';
import type { CliResult } from './cli-process';


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
  /** Relative paths the command must not have made (a failed stage writes no partial output). */
  absent?: readonly string[];
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

/** The repository's tiny GPT-2 (2 layers, 4 heads, d_model 32, a word-level vocabulary of 43). */
const TINY_GPT2 = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'models', 'tiny-random-gpt2');

/** Files made once per directory of cases and only read by them (the cases' good inputs). */
const sharedFiles = new Map<string, Promise<string>>();

function sharedFile(dir: string, name: string, make: (path: string) => Promise<void>): Promise<string> {
  const path = join(dir, '..', 'shared', name);
  let made = sharedFiles.get(path);
  if (made === undefined) {
    made = mkdir(dirname(path), { recursive: true })
      .then(() => make(path))
      .then(() => path);
    sharedFiles.set(path, made);
  }
  return made;
}

/**
 * A copy of the tiny GPT-2 in `dir/model`, its config.json rewritten by `config` and its tensors
 * edited by `tensors`. The model package is imported here, not at the top, so that printing the
 * README's table does not start a tensor backend.
 */
async function brokenModel(
  dir: string,
  edits: { config?: (config: Record<string, unknown>) => Record<string, unknown>; tensors?: (tensors: Map<string, { shape: number[]; data: Float32Array }>) => void },
): Promise<string> {
  const model = join(dir, 'model');
  await cp(TINY_GPT2, model, { recursive: true });
  if (edits.config) {
    const config = JSON.parse(await readFile(join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(model, 'config.json'), JSON.stringify(edits.config(config), null, 2));
  }
  if (edits.tensors) {
    const { readSafetensors, writeSafetensors } = await import('@circuit-tuning/model');
    const file = await readSafetensors(join(model, 'model.safetensors'));
    const tensors = new Map([...file.tensors].map(([name, t]) => [name, { shape: [...t.shape], data: Float32Array.from(t.data) }]));
    edits.tensors(tensors);
    await writeSafetensors(join(model, 'model.safetensors'), tensors);
  }
  return model;
}

/** The tiny GPT-2's config.json as a Llama config of the same size (the loader reads the config before any tensor). */
const asLlama = (extra: Record<string, unknown>) => (): Record<string, unknown> => ({
  model_type: 'llama',
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  hidden_size: 32,
  intermediate_size: 128,
  vocab_size: 43,
  max_position_embeddings: 32,
  rope_theta: 10000,
  ...extra,
});

/** One prompt pair as token ids of the tiny GPT-2's vocabulary. */
interface PromptIds {
  clean: number[];
  corrupt: number[];
  pos: number;
  answer: number;
  foil: number;
}

/** Ids of the tiny GPT-2's vocab.json. */
const WORD = { the: 3, key: 5, keys: 6, cabinet: 7, near: 13, is: 18, are: 19, '.': 42 } as const;

/**
 * A prompts table of 24 subject-verb pairs ("the key near the cabinet" → is / are, corrupted to
 * "the keys …"), written at `path`; `edit` may break a row (the bad-input cases break row 5).
 */
async function promptsTable(path: string, edit?: (row: PromptIds, index: number) => PromptIds): Promise<string> {
  const { PromptsTable } = await import('@circuit-tuning/contracts');
  const { writeArrowTable } = await import('@circuit-tuning/runtime');
  const rows = Array.from({ length: 24 }, (_, i) => {
    const [subject, other] = i % 2 === 0 ? (['key', 'keys'] as const) : (['keys', 'key'] as const);
    const sentence = (noun: 'key' | 'keys') => [WORD.the, WORD[noun], WORD.near, WORD.the, WORD.cabinet];
    const row: PromptIds = { clean: sentence(subject), corrupt: sentence(other), pos: 4, answer: WORD[subject === 'key' ? 'is' : 'are'], foil: WORD[subject === 'key' ? 'are' : 'is'] };
    return edit ? edit(row, i) : row;
  });
  await writeArrowTable(
    path,
    PromptsTable,
    {
      id: Int32Array.from(rows.map((_, i) => i)),
      split: rows.map((_, i) => (i < 20 ? 'train' : 'test')),
      task: rows.map(() => 'agreement'),
      clean_text: rows.map(() => ''),
      clean_ids: rows.map((r) => r.clean),
      corrupt_text: rows.map(() => ''),
      corrupt_ids: rows.map((r) => r.corrupt),
      pos: Int32Array.from(rows.map((r) => r.pos)),
      answer: Int32Array.from(rows.map((r) => r.answer)),
      foil: Int32Array.from(rows.map((r) => r.foil)),
      target_text: rows.map(() => null),
      condition: rows.map(() => ''),
      group: rows.map(() => ''),
    },
    { producer: 'bad-input-cases' },
  );
  return path;
}

/** A texts table of 40 short sentences in the tiny GPT-2's words, to train on. */
async function textsTable(path: string): Promise<void> {
  const { TextsTable } = await import('@circuit-tuning/contracts');
  const { writeArrowTable } = await import('@circuit-tuning/runtime');
  const ids = Array.from({ length: 40 }, (_, i) =>
    i % 2 === 0 ? [WORD.the, WORD.key, WORD.near, WORD.the, WORD.cabinet, WORD.is, WORD['.']] : [WORD.the, WORD.keys, WORD.near, WORD.the, WORD.cabinet, WORD.are, WORD['.']],
  );
  await writeArrowTable(
    path,
    TextsTable,
    {
      id: Int32Array.from(ids.map((_, i) => i)),
      split: ids.map((_, i) => (i % 10 === 0 ? 'dev' : 'train')),
      task: ids.map(() => 'agreement'),
      text: ids.map((_, i) => (i % 2 === 0 ? 'the key near the cabinet is .' : 'the keys near the cabinet are .')),
      ids,
      target_positions: ids.map(() => []),
    },
    { producer: 'bad-input-cases' },
  );
}

/** The arguments of a short circuit-tuning run of the tiny GPT-2 on `prompts`, with `settings` (--set KEY=VALUE) after the defaults. */
async function circuitTuning(dir: string, prompts: string, settings: string[] = []): Promise<string[]> {
  const texts = await sharedFile(dir, 'texts.arrow', textsTable);
  const set = ['steps=2', 'batchSize=4', 'seqLen=16', 'topN.start=40', 'discovery.prompts=8', ...settings].flatMap((s) => ['--set', s]);
  return ['stage', 'train:circuit-tuning', '--in', `model=${TINY_GPT2}`, '--in', `train=${texts}`, '--in', `prompts=${prompts}`, ...set, '--out', join(dir, 'out'), '--quiet'];
}

/** The arguments of discover:eap on the tiny GPT-2 and good prompts, with `settings` (--set KEY=VALUE). */
async function discovery(dir: string, settings: string[]): Promise<string[]> {
  const prompts = await sharedFile(dir, 'prompts.arrow', (path) => promptsTable(path).then(() => undefined));
  return ['stage', 'discover:eap', '--in', `model=${TINY_GPT2}`, '--in', `prompts=${prompts}`, ...settings.flatMap((s) => ['--set', s]), '--out', join(dir, 'out'), '--quiet'];
}

/** The arguments of tasks:import-pairs of `csv` (written as DIR/pairs.csv) with the tiny GPT-2's tokenizer. */
async function importPairs(dir: string, csv: string): Promise<string[]> {
  const source = await file(join(dir, 'pairs.csv'), csv);
  return ['stage', 'tasks:import-pairs', '--in', `source=${source}`, '--in', `tokenizer=${TINY_GPT2}`, '--out', join(dir, 'out'), '--quiet'];
}

/** The arguments of load:hf of `source` into DIR/out. */
const LOAD = (dir: string, source: string) => ['stage', 'load:hf', '--in', `source=${source}`, '--out', join(dir, 'out'), '--quiet'];

/** What load:hf must not leave behind when it refuses a model: any copy of it. */
const NO_MODEL_COPY = ['out/model'] as const;

export const BAD_INPUT_CASES: readonly BadInputCase[] = [
  {
    input: 'a `foreach` item that climbs out of the run directory (`foreach: [/../../../victim]`)',
    command: 'pnpm exec ct run FILE.yaml --run-dir DIR/a/b/run',
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
    command: 'pnpm exec ct run FILE.yaml',
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
    command: 'pnpm exec ct run FILE.yaml --run-dir DIR',
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
    command: 'pnpm exec ct run FILE.yaml --run-dir DIR --allow-existing-dir',
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
    command: 'pnpm exec ct run FILE.yaml --run-dir RUN --force',
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
    command: 'pnpm exec ct stage tasks:generate --out DIR',
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
    command: 'pnpm exec ct sweep FILE.yaml --grid seed=1,2 --out DIR',
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
    command: 'pnpm exec ct verify RUN --work RUN',
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
    command: 'pnpm exec ct verify DIR/run --work DIR',
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
    command: 'pnpm exec ct verify RUN --work DIR',
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
    command: 'pnpm exec ct run FILE.yaml --run-dir RUN',
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
    command: 'pnpm exec ct stage tasks:generate --out DIR',
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
    command: 'pnpm exec ct run FILE.yaml',
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
    command: 'pnpm exec ct stage discover:eap --in prompts=RUN/tasks/sv_disagreement.arrow --in model=MODEL',
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
  ...(
    [
      ['clean and corrupted prompts of different lengths (`corrupt_ids` one token longer in row 5)', (row: PromptIds) => ({ ...row, corrupt: [...row.corrupt, WORD['.']] }), 'P.arrow row 5: prompt id 5: clean and corrupted prompts differ in length (5 vs 6 tokens)'],
      ['an answer id outside the vocabulary (99999 in row 5)', (row: PromptIds) => ({ ...row, answer: 99_999 }), "P.arrow row 5: prompt id 5: answer id 99999 is outside the model's vocabulary of 43"],
      ['a prediction position outside the prompt (`pos` 9 in row 5)', (row: PromptIds) => ({ ...row, pos: 9 }), 'P.arrow row 5: prompt id 5: pos 9 is outside clean_ids (length 5)'],
    ] as const
  ).map(
    ([input, edit, message]): BadInputCase => ({
      input: `a prompts table to train a circuit on: ${input}`,
      command: 'pnpm exec ct stage train:circuit-tuning --in model=MODEL --in train=FILE --in prompts=P.arrow',
      async setup(dir) {
        return { args: await circuitTuning(dir, await promptsTable(join(dir, 'P.arrow'), (row, i) => (i === 5 ? edit(row) : row))) };
      },
      message,
      exitCode: 4,
      finding: '#14.4',
    }),
  ),
  {
    input: 'circuit-tuning with a top-N whose circuit owns no parameters (`topN.start: 1`, `emptyCircuit: error`, the default)',
    command: 'pnpm exec ct stage train:circuit-tuning --in model=MODEL --in train=FILE --in prompts=FILE --set topN.start=1',
    async setup(dir) {
      return { args: await circuitTuning(dir, await sharedFile(dir, 'prompts.arrow', (path) => promptsTable(path).then(() => undefined)), ['topN.start=1']) };
    },
    message: 'step 0: the circuit found at step 0 owns no parameters (0 edges, top-N 1), so the step would train nothing',
    exitCode: 6,
    finding: '#14.5',
  },
  ...['1e6', '1e30'].map(
    (rate): BadInputCase => ({
      input: `a learning rate that makes training diverge (\`learningRate: ${rate}\`)`,
      command: `pnpm exec ct stage train:full --in model=MODEL --in train=FILE --set learningRate=${rate}`,
      async setup(dir) {
        const texts = await sharedFile(dir, 'texts.arrow', textsTable);
        const set = ['steps=6', 'batchSize=4', 'seqLen=16', `learningRate=${rate}`].flatMap((s) => ['--set', s]);
        return { args: ['stage', 'train:full', '--in', `model=${TINY_GPT2}`, '--in', `train=${texts}`, ...set, '--out', join(dir, 'out'), '--quiet'] };
      },
      // 1e6 trips the loss-spike test (the loss's value depends on the backend), 1e30 makes the loss NaN.
      message: rate === '1e30' ? 'training diverged at step 1: loss NaN, gradient norm NaN' : 'training diverged at step 1: loss',
      exitCode: 6,
      finding: '#14.8',
    }),
  ),
  {
    input: 'a model whose weights hold a NaN',
    command: 'pnpm exec ct stage load:hf --in source=DIR',
    async setup(dir) {
      return {
        args: LOAD(
          dir,
          await brokenModel(dir, {
            tensors: (t) => {
              (t.get('h.0.mlp.c_fc.weight') as { data: Float32Array }).data[5] = Number.NaN;
            },
          }),
        ),
      };
    },
    message: "model/model.safetensors: tensor 'h.0.mlp.c_fc.weight' holds NaN at index 5 (1 of 4096 values are NaN or infinite)",
    exitCode: 5,
    absent: NO_MODEL_COPY,
    finding: '#14.6',
  },
  {
    input: 'a config.json that says fewer layers than the weights hold (`n_layer: 1` over a 2-layer file)',
    command: 'pnpm exec ct stage load:hf --in source=DIR',
    async setup(dir) {
      return { args: LOAD(dir, await brokenModel(dir, { config: (c) => ({ ...c, n_layer: 1 }) })) };
    },
    message: "model/model.safetensors: holds 12 tensor(s) that config.json (gpt2, 1 layers, 4 heads, d_model 32, vocab 43) does not account for: 'h.1.attn.c_attn.bias', 'h.1.attn.c_attn.weight'",
    exitCode: 5,
    absent: NO_MODEL_COPY,
    finding: '#14.6',
  },
  {
    input: 'a model file that lacks a tensor its config.json needs',
    command: 'pnpm exec ct stage load:hf --in source=DIR',
    async setup(dir) {
      return { args: LOAD(dir, await brokenModel(dir, { tensors: (t) => t.delete('h.1.ln_2.bias') })) };
    },
    message: "model/model.safetensors: lacks 1 tensor(s) that config.json (gpt2, 2 layers, 4 heads, d_model 32, vocab 43) needs: 'h.1.ln_2.bias'",
    exitCode: 5,
    absent: NO_MODEL_COPY,
    finding: '#14.6',
  },
  {
    input: 'a Llama config.json with a rotary scaling that is not implemented (`rope_scaling.rope_type: yarn`)',
    command: 'pnpm exec ct stage load:hf --in source=DIR',
    async setup(dir) {
      return { args: LOAD(dir, await brokenModel(dir, { config: asLlama({ rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16 } }) })) };
    },
    message: 'model/config.json: rope_scaling.rope_type "yarn" is not implemented',
    exitCode: 5,
    absent: NO_MODEL_COPY,
    finding: '#14.6',
  },
  {
    input: 'a quantized Llama checkpoint (`quantization_config` in config.json)',
    command: 'pnpm exec ct stage load:hf --in source=DIR',
    async setup(dir) {
      return { args: LOAD(dir, await brokenModel(dir, { config: asLlama({ quantization_config: { quant_method: 'bitsandbytes' } }) })) };
    },
    message: 'model/config.json: quantization_config: quantized checkpoints are not supported',
    exitCode: 5,
    absent: NO_MODEL_COPY,
    finding: '#14.6',
  },
  {
    input: 'discovery asked for a circuit of no edges (`selection.n: 0`)',
    command: 'pnpm exec ct stage discover:eap --in model=MODEL --in prompts=FILE --set selection.n=0',
    async setup(dir) {
      return { args: await discovery(dir, ['selection.n=0']) };
    },
    message: 'selection.n must be at least 1: top-0 selects no edge, an empty circuit',
    exitCode: 3,
    finding: '#14.9',
  },
  {
    input: 'discovery asked for more edges than the model has (`selection.n: 50000` on the tiny GPT-2)',
    command: 'pnpm exec ct stage discover:eap --in model=MODEL --in prompts=FILE --set selection.n=50000',
    async setup(dir) {
      return { args: await discovery(dir, ['selection.n=50000']) };
    },
    message: 'selection.n is 50,000, but the full graph of this model (2 layers × 4 heads) has 110 edges',
    exitCode: 3,
    finding: '#14.9',
  },
  {
    input: 'a CSV of prompt pairs with an unterminated quote',
    command: 'pnpm exec ct stage tasks:import-pairs --in source=FILE.csv --in tokenizer=MODEL',
    async setup(dir) {
      return { args: await importPairs(dir, 'clean,corrupted,answer,foil\nthe key near the cabinets,the keys near the cabinets,is,are\n"the key,the keys,is,are\n') };
    },
    message: 'pairs.csv: line 3: a quoted field is never closed (unterminated quote)',
    exitCode: 5,
    finding: '#16',
  },
  {
    input: 'a CSV row with more fields than the header',
    command: 'pnpm exec ct stage tasks:import-pairs --in source=FILE.csv --in tokenizer=MODEL',
    async setup(dir) {
      return { args: await importPairs(dir, 'clean,corrupted,answer,foil\nthe key near the cabinets,the keys near the cabinets,is,are,extra\n') };
    },
    message: 'pairs.csv: line 2: 5 fields, but the header has 4 (clean, corrupted, answer, foil)',
    exitCode: 5,
    finding: '#16',
  },
  {
    input: 'a CSV of prompt pairs none of which is usable (lengths differ, a two-token answer)',
    command: 'pnpm exec ct stage tasks:import-pairs --in source=FILE.csv --in tokenizer=MODEL',
    async setup(dir) {
      return { args: await importPairs(dir, 'clean,corrupted,answer,foil\nthe key near the cabinets,the keys near the cabinets is,is,are\nthe key,the keys,is are,are\n') };
    },
    message: 'pairs.csv: no usable row: all 2 rows were rejected (1 length-mismatch, 1 multi-token-answer)',
    exitCode: 5,
    finding: '#16',
  },
  {
    input: 'two metrics tables of the same variant and seed given to a comparison',
    command: 'pnpm exec ct stage evaluate:compare --in run_1=FILE --in run_5=FILE',
    async setup(dir) {
      const { EvaluationMetricsTable } = await import('@circuit-tuning/contracts');
      const { writeArrowTable } = await import('@circuit-tuning/runtime');
      const metrics = join(dir, 'metrics.arrow');
      await writeArrowTable(
        metrics,
        EvaluationMetricsTable,
        { run: ['full'], seed: Float64Array.of(2), task: ['target'], dataset: ['agreement'], metric: ['accuracy'], condition: [''], value: Float64Array.of(0.75), n: Int32Array.of(24) },
        { producer: 'bad-input-cases' },
      );
      return { args: ['stage', 'evaluate:compare', '--in', `run_1=${metrics}`, '--in', `run_5=${metrics}`, '--out', join(dir, 'out'), '--quiet'] };
    },
    message: "two inputs are labelled 'full' with seed 2 (ports run_1 and run_5)",
    exitCode: 3,
    finding: '#15',
  },
  {
    input: '`ct store gc --store` a folder that is not an artifact store',
    command: 'pnpm exec ct store gc --store DIR --delete',
    async setup(dir) {
      return { args: ['store', 'gc', '--store', join(dir, 'mine'), '--delete'] };
    },
    message: 'not an artifact store (it has no store-id.pack); nothing in it is touched',
    exitCode: 3,
    sentinels: { 'mine/steps/old.pack': 'a file that only looks like an entry', 'mine/.draft.pack.1.0123456789ab.tmp': 'looks like a temp' },
    finding: '#19',
  },
  {
    input: '`ct run --queue` without `--executor queue`',
    command: 'pnpm exec ct run FILE.yaml --queue nats://HOST:4222',
    async setup(dir) {
      return { args: ['run', await file(join(dir, 'tasks.yaml'), TASKS_PIPELINE), '--run-dir', join(dir, 'run'), '--queue', 'nats://127.0.0.1:9'] };
    },
    message: '--queue is for --executor queue',
    exitCode: 3,
    absent: ['run'],
    finding: '#19',
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
