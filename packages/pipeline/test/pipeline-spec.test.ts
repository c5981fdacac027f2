/**
 * The pipeline file: parsing with positions, foreach, overrides, wiring checks, and user variants
 * (a module and an external command) run in-process on stages that need no tensors.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, RuntimeError, TextsTable } from '@circuit-tuning/contracts';
import { readArrowTable, readManifest } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinRegistry, expandGrid, loadPipeline, parseOverride, runPipeline, validateTrials } from '../src/index';

const variants = fileURLToPath(new URL('./pipeline-variants/', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-pipeline-spec-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function pipelineFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function loadError(text: string): Promise<string> {
  const path = await pipelineFile('bad.yaml', text);
  try {
    await loadPipeline(path, { registry: builtinRegistry() });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a config error');
}

const TASKS = `  tasks:
    stage: tasks:generate
    config:
      tasks: [sv-disagreement]
      corpus: { tokens: 2000, devDocuments: 10 }
      sizes: { svAgreement: { train: 40, dev: 8, test: 8 }, svDisagreementTrain: { train: 20, dev: 4, test: 4 } }
`;

describe('pipeline files', () => {
  it('reports an unknown key with its file, line and the valid keys', async () => {
    const message = await loadError(`seed: 1\nsed: 2\nsteps:\n${TASKS}`);
    expect(message).toMatch(/bad\.yaml:2:1: unknown key 'sed' \(valid: name, description, seed, backend, threads, steps\)/);
  });

  it('reports an unknown stage slot or variant with the valid choices', async () => {
    const variant = await loadError(`steps:\n${TASKS}  discover:\n    variant: eap-xl\n    inputs: { model: ./x, prompts: tasks.sv_disagreement }\n`);
    expect(variant).toMatch(/bad\.yaml:\d+:\d+: step 'discover': unknown variant 'eap-xl' for stage slot 'discover'; valid variants: eap, eap-ig, exact, random/);
    const slot = await loadError(`steps:\n  x:\n    stage: discovr:eap\n`);
    expect(slot).toMatch(/bad\.yaml:3:12: step 'x': unknown stage slot 'discovr'; valid slots: discover, evaluate, export, load, redundancy, report, tasks, train/);
  });

  it('reports unknown config keys, nested ones too, at their line', async () => {
    const message = await loadError(
      `steps:\n${TASKS}  tasks2:\n    stage: tasks:generate\n    config:\n      task: [ioi]\n      sizes: { ioi: { train: 1 }, io: {} }\n`,
    );
    expect(message).toMatch(/bad\.yaml:11:7: step 'tasks2' \(tasks:generate\): unknown config key 'task' \(valid: world, tasks, sizes, corpus\)/);
    const nested = await loadError(`steps:\n  tasks:\n    stage: tasks:generate\n    config:\n      sizes: { ioi: { train: 1 }, io: {} }\n`);
    expect(nested).toMatch(/bad\.yaml:5:35: step 'tasks' \(tasks:generate\): unknown config key 'sizes\.io' \(valid: svAgreement, svDisagreementTrain, genderBiasEval/);
    const inline = await loadError(`steps:\n${TASKS}  discover:\n    variant: eap-ig\n    stepz: 5\n    inputs: { model: ../x, prompts: tasks.sv_disagreement }\n`);
    expect(inline).toMatch(/bad\.yaml:10:5: step 'discover' \(discover:eap-ig\): unknown config key 'stepz' \(valid: graph, kvReaders, metric, .*steps\)/);
  });

  it('checks wiring: unknown steps and ports, kinds and table schemas, required inputs, cycles', async () => {
    const port = await loadError(`steps:\n${TASKS}  load:\n    stage: load:hf\n    inputs: { source: tasks.tokenizr }\n`);
    expect(port).toMatch(/bad\.yaml:10:23: step 'load': step 'tasks' \(tasks:generate\) has no output 'tokenizr' \(outputs: tokenizer, world, corpus_train/);
    const schema = await loadError(`steps:\n${TASKS}  discover:\n    stage: discover:eap\n    inputs: { model: tasks.tokenizer, prompts: tasks.sv_disagreement_train }\n`);
    expect(schema).toMatch(/'tasks\.sv_disagreement_train' is table ct\.texts but input 'prompts' of discover:eap takes table ct\.prompts/);
    const missing = await loadError(`steps:\n${TASKS}  discover:\n    stage: discover:eap\n    inputs: { model: tasks.tokenizer }\n`);
    expect(missing).toMatch(/required input 'prompts' is not wired \(inputs: model \(model-dir\), prompts \(table ct\.prompts\)\)/);
    const cycle = await loadError(`steps:\n  a:\n    stage: load:hf\n    inputs: { source: b.model }\n  b:\n    stage: load:hf\n    inputs: { source: a.model }\n`);
    expect(cycle).toMatch(/the steps a, b depend on each other in a cycle/);
    const step = await loadError(`steps:\n  a:\n    stage: load:hf\n    inputs: { source: nowhere.model }\n`);
    expect(step).toMatch(/input 'source' refers to unknown step 'nowhere' \(steps: a\)/);
  });

  it('expands foreach, applies --set overrides, and resolves paths against the file', async () => {
    const path = await pipelineFile(
      'ok.yaml',
      `name: demo\nseed: 3\nsteps:\n${TASKS}  load:\n    stage: load:hf\n    inputs: { source: ./model }\n  train:\n    stage: 'train:{item}'\n    foreach: { full: {}, lora: { learningRate: 0.01 } }\n    inputs: { model: load.model, train: tasks.sv_disagreement_train }\n    config: { steps: 5 }\n  discover:\n    stage: discover:eap\n    inputs: { model: load.model, prompts: tasks.sv_disagreement }\n  reload:\n    stage: load:hf\n    foreach: [train-full, train-lora]\n    inputs: { source: '{item}.model' }\n  report: { variant: html }\n`,
    );
    await mkdir(join(dir, 'model'), { recursive: true });
    const overrides = ['seed=9', 'discover.variant=eap-ig', 'discover.config.steps=2', 'train-lora.config.steps=7'].map(parseOverride);
    const { pipeline } = await loadPipeline(path, { registry: builtinRegistry(), overrides });
    expect(pipeline.seed).toBe(9);
    expect(pipeline.steps.map((s) => s.id)).toEqual(['tasks', 'load', 'train-full', 'train-lora', 'discover', 'reload-train-full', 'reload-train-lora', 'report']);
    expect(pipeline.steps.find((s) => s.id === 'reload-train-lora')?.inputs.source).toEqual({ step: 'train-lora', port: 'model' });
    const lora = pipeline.steps.find((s) => s.id === 'train-lora');
    expect(lora?.stage.id).toBe('train:lora');
    expect(lora?.config).toEqual({ steps: 7, learningRate: 0.01 });
    expect(lora?.resolvedConfig.batchSize).toBe(16);
    expect(lora?.dependsOn.sort()).toEqual(['load', 'tasks']);
    expect(pipeline.steps.find((s) => s.id === 'discover')?.stage.id).toBe('discover:eap-ig');
    expect(pipeline.steps.find((s) => s.id === 'load')?.inputs.source).toEqual({ path: join(dir, 'model') });
    expect(pipeline.steps.find((s) => s.id === 'report')?.inputs.run).toEqual({ collect: ['tasks', 'load', 'train-full', 'train-lora', 'discover', 'reload-train-full', 'reload-train-lora'] });
    await expect(loadPipeline(path, { registry: builtinRegistry(), overrides: [parseOverride('nosuchstep.config.x=1')] })).rejects.toThrow(/no setting or step 'nosuchstep'/);
  });
});

describe('user variants', () => {
  const external = (extra = '') => `name: user-variants
seed: 1
steps:
${TASKS}  texts:
    stage:
      command: [node, ${join(variants, 'prompts-to-texts.mjs')}${extra}]
      slot: tasks
      variant: prompts-to-texts
      inputs: { prompts: ct.prompts }
      outputs: { texts: ct.texts }
    inputs: { prompts: tasks.sv_disagreement }
    config: { limit: 20 }
  count:
    stage: ${join(variants, 'word-count.ts')}#wordCount
    inputs: { texts: texts.texts }
    config: { top: 3 }
`;

  it('runs a module variant and an external command variant, checks and caches their outputs', async () => {
    const path = await pipelineFile('user.yaml', external());
    const runDir = join(dir, 'user-run');
    const plan = await loadPipeline(path, { registry: builtinRegistry() });
    expect(plan.pipeline.steps.map((s) => `${s.id}=${s.stage.source}:${s.stage.id}`)).toEqual([
      'tasks=builtin:tasks:generate',
      'texts=external:tasks:prompts-to-texts',
      'count=module:stats:word-count',
    ]);
    const first = await runPipeline(plan, { runDir });
    expect(first.status, JSON.stringify(first.steps.map((s) => s.error))).toBe('succeeded');
    const manifest = await readManifest(join(runDir, 'texts'));
    expect(manifest?.outputs[0]).toMatchObject({ port: 'texts', schema: 'ct.texts', rows: 20 });
    expect(manifest?.config).toMatchObject({ params: { limit: 20 } });
    expect(Object.values((manifest?.config.files ?? {}) as Record<string, string>)[0]).toMatch(/^[0-9a-f]{64}$/);
    const texts = await readArrowTable(join(runDir, 'texts', 'texts.arrow'), TextsTable);
    expect(texts.metadata.producer).toBe('tasks:prompts-to-texts@1');
    expect(texts.columns.target_positions[0]).toEqual([texts.columns.ids[0]!.length - 2]);
    const log = await readFile(join(runDir, 'texts', 'log.jsonl'), 'utf8');
    expect(log).toMatch(/"label":"rows"/);
    expect(log).toMatch(/wrote 20 texts/);
    expect(log).toMatch(/plain text lines are logged too/);
    const counts = JSON.parse(await readFile(join(runDir, 'count', 'counts.json'), 'utf8')) as { words: number; top: Record<string, number> };
    expect(counts.words).toBeGreaterThan(5);
    expect(Object.keys(counts.top)).toHaveLength(3);
    expect((await readManifest(join(runDir, 'count')))?.versions).toHaveProperty(`module:${join(variants, 'word-count.ts')}`);

    const again = await runPipeline(await loadPipeline(path, { registry: builtinRegistry() }), { runDir });
    expect(again.steps.map((s) => s.status)).toEqual(['cached', 'cached', 'cached']);
    const changed = await runPipeline(await loadPipeline(path, { registry: builtinRegistry(), overrides: [parseOverride('texts.config.limit=10')] }), { runDir });
    expect(changed.steps.map((s) => s.status)).toEqual(['cached', 'succeeded', 'succeeded']);
  });

  it('a failing external command fails its step with its error output, and the run stops there', async () => {
    const path = await pipelineFile('fail.yaml', external(', --fail'));
    const runDir = join(dir, 'fail-run');
    const result = await runPipeline(await loadPipeline(path, { registry: builtinRegistry() }), { runDir });
    expect(result.status).toBe('failed');
    expect(result.error).toBeInstanceOf(RuntimeError);
    expect((result.error as RuntimeError).message).toMatch(/exited with status 3/);
    expect((result.error as RuntimeError).hint).toMatch(/asked to fail/);
    expect(result.steps.map((s) => s.status)).toEqual(['succeeded', 'failed', 'skipped']);
    expect((await readManifest(join(runDir, 'texts')))?.status).toBe('failed');
    expect(existsSync(join(runDir, 'count'))).toBe(false);
  });
});

describe('a sweep', () => {
  it('resolves every trial before any runs, and names the problems and the trials they concern', async () => {
    const path = await pipelineFile('sweepable.yaml', `seed: 1\nsteps:\n${TASKS}`);
    const good = expandGrid([{ key: 'tasks.config.corpus.tokens', values: [2000, 3000] }], join(dir, 'sweep'));
    await expect(validateTrials(path, [], good, builtinRegistry())).resolves.toBeUndefined();
    const bad = expandGrid(
      [
        { key: 'tasks.config.corpus.tokenz', values: [1] },
        { key: 'seed', values: [1, 2] },
      ],
      join(dir, 'sweep'),
    );
    const error = await validateTrials(path, ['tasks.config.corpus.devDocuments=5'], bad, builtinRegistry()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/^the sweep's trials do not resolve; nothing was run:/);
    expect(message).toMatch(/trials 1-tokenz=1_seed=1, 2-tokenz=1_seed=2: .*sweepable\.yaml:\d+:\d+: .*unknown config key 'corpus.tokenz' \(valid: tokens, devDocuments\)/s);
  });
});
