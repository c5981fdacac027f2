import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@circuit-tuning/contracts';
import { type Command, commandHelp } from '../command';
import { COMMAND_INFO, STAGE_OPTIONS, STAGE_OPTIONS_HELP, STAGE_USAGE } from './catalog';
import { appVersions, backendChoice, cancelOnSignals, listOption, positiveInt, startPipelineBackend, userPath } from '../cli-support';
import { BUILTIN_STAGES, builtinRegistry, createDisplay, indexPath, isRecord, isResolvedPipeline, parseOverride, readYamlFile, RESOLVED_FILE, stageHelp } from '@circuit-tuning/pipeline';
import { type AnyStageDefinition, indexStep, RunIndex, type RunIndexStep, readManifest, runStage, stageId, writeRunIndex } from '@circuit-tuning/runtime';
import { readFile } from 'node:fs/promises';



/** `stage SLOT:VARIANT ...`: any registered stage, alone. `stage --list` lists them. */
export const stageCommand: Command = {
  ...COMMAND_INFO['stage'],
  help(positionals) {
    const [id] = positionals;
    const registry = builtinRegistry();
    if (id === undefined || !registry.has(id)) return undefined;
    const definition = registry.get(id);
    return commandHelp(stageCommands().find((c) => c.name === stageId(definition))!);
  },
  async run({ values, positionals }) {
    const registry = builtinRegistry();
    if (values.list) {
      for (const definition of registry.list()) process.stdout.write(`${stageId(definition).padEnd(24)} ${definition.description}\n`);
      return 0;
    }
    const [id, ...rest] = positionals;
    if (id === undefined) throw new ConfigError('stage needs a stage name', { hint: `stages: ${registry.list().map(stageId).join(', ')}` });
    const definition = registry.get(id);
    if (rest[0] === 'help') {
      process.stdout.write(`${stageHelp(definition)}\n`);
      return 0;
    }
    return runOneStage(definition, values, rest);
  },
};

/** One command per built-in stage, named `slot:variant`, with its ports and config in --help. */
export function stageCommands(): Command[] {
  return BUILTIN_STAGES.map((definition) => ({
    name: stageId(definition),
    summary: definition.description,
    usage: `${stageId(definition)} ${STAGE_USAGE}\n\n${STAGE_OPTIONS_HELP}\n\n${stageHelp(definition)}`,
    options: STAGE_OPTIONS,
    run: ({ values, positionals }) => runOneStage(definition, values, positionals),
  }));
}

async function runOneStage(definition: AnyStageDefinition, values: Record<string, unknown>, extra: string[]): Promise<number> {
  const id = stageId(definition);
  if (extra.length > 0) throw new ConfigError(`${id}: unexpected argument '${extra[0]}'`, { hint: 'inputs are given as --in PORT=PATH' });
  const out = userPath((values.out as string | undefined) ?? join('runs', `${definition.slot}-${definition.variant}`));
  let config: Record<string, unknown> = {};
  if (values.config !== undefined) {
    const file = userPath(String(values.config));
    const source = await readYamlFile(file);
    if (!isRecord(source.value)) throw new ConfigError(`${file}: a config file is a mapping of config keys`);
    config = source.value;
  }
  for (const override of listOption(values.set).map(parseOverride)) {
    let node = config;
    for (const segment of override.path.slice(0, -1)) {
      if (!isRecord(node[segment])) node[segment] = {};
      node = node[segment] as Record<string, unknown>;
    }
    node[override.path[override.path.length - 1] as string] = override.value;
  }
  const inputs: Record<string, string> = {};
  for (const text of listOption(values.in)) {
    const eq = text.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--in '${text}': expected PORT=PATH`, { hint: `inputs of ${id}: ${Object.keys(definition.inputs).join(', ') || 'none'}` });
    const port = text.slice(0, eq);
    let path = userPath(text.slice(eq + 1));
    const spec = definition.inputs[port];
    if (spec?.kind === 'json' && spec.schema === RunIndex && existsSync(path) && statSync(path).isDirectory()) path = await indexOfRunDir(path, out);
    inputs[port] = path;
  }
  const seed = positiveInt(values.seed, '--seed') ?? 0;
  const info = await startPipelineBackend(backendChoice(values.backend) ?? 'auto', positiveInt(values.threads, '--threads'));
  const display = createDisplay({ quiet: values.quiet === true });
  const step = { id: definition.slot, stage: { source: 'builtin' as const, id, version: definition.version }, config, resolvedConfig: config, configHash: '', seed, inputs: {}, dependsOn: [] };
  display.start({ format: 'ct.pipeline.resolved', version: 1, name: id, overrides: [], seed, backend: info.name, steps: [step] }, out);
  display.stepStart(step, 0);
  const cancel = cancelOnSignals();
  try {
    const result = await runStage(definition, {
      stageDir: out,
      inputs,
      config,
      seed,
      backend: info,
      versions: appVersions(info),
      force: values.force === true,
      allowExistingDir: values['allow-existing-dir'] === true,
      signal: cancel.signal,
      reporter: (event) => display.event(step, event),
    });
    display.stepEnd(step, { id: step.id, stage: id, status: result.cached ? 'cached' : 'succeeded', outputs: {}, durationMs: result.manifest.durationMs ?? 0 }, 0);
    if (values.json) process.stdout.write(`${JSON.stringify(result.manifest, null, 2)}\n`);
    else process.stdout.write(`${out}\n`);
    return 0;
  } finally {
    cancel.dispose();
  }
}

/** A run index of every finished step of a run directory, written where the stage will read it. */
async function indexOfRunDir(runDir: string, stageDir: string): Promise<string> {
  const resolvedPath = join(runDir, RESOLVED_FILE);
  let ids: { id: string; group?: string | undefined; item?: string | undefined }[] = [];
  let name = runDir.split('/').pop() ?? 'run';
  let seed = 0;
  if (existsSync(resolvedPath)) {
    const resolved: unknown = JSON.parse(await readFile(resolvedPath, 'utf8'));
    if (isResolvedPipeline(resolved)) {
      ids = resolved.steps.map((s) => ({ id: s.id, group: s.group, item: s.item }));
      name = resolved.name;
      seed = resolved.seed;
    }
  }
  const steps: RunIndexStep[] = [];
  for (const { id, group, item } of ids) {
    const manifest = await readManifest(join(runDir, id)).catch(() => undefined);
    // The stage's own directory (a report rerun inside the run) is not one of its inputs.
    if (manifest?.status !== 'succeeded' || join(runDir, id) === stageDir || manifest.stage.slot === 'report') continue;
    steps.push(indexStep(id, manifest, { group, item }));
  }
  if (steps.length === 0) throw new ConfigError(`${runDir}: no finished steps to index`);
  const path = indexPath(runDir, `standalone-${stageDir.split('/').pop() ?? 'stage'}`, 'run');
  await writeRunIndex(path, { pipeline: name, seed, steps });
  return path;
}
