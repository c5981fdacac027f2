/**
 * Resolution: step specs → a plan the runner can execute. Each step's stage is found (registry,
 * module or external command), its config is checked against the stage's zod schema, its inputs
 * are wired (references to other steps' outputs, paths relative to the pipeline file, collected
 * run indexes) and checked for kind and table schema, and the steps are put in dependency order.
 * Every problem names `file:line:col` and the valid choices; all of them are reported at once.
 *
 * The result (`ResolvedPipeline`) is plain JSON and self-sufficient: it is written to the run
 * directory as `pipeline.resolved.json`, and `verify` reruns a run from it alone.
 */
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { CircuitTuningError, ConfigError } from '@circuit-tuning/contracts';
import { type AnyStageDefinition, hashConfig, sha256File, type StageRegistry, stageId } from '@circuit-tuning/runtime';
import { commandFiles, externalStage } from './external-stage';
import { loadModuleStage } from './module-stage';
import { applyDocumentOverrides, applyStepOverrides, type Override } from './overrides';
import {
  type BackendChoice,
  configErrors,
  type ExternalStageSpec,
  isModuleReference,
  isRecord,
  parsePipeline,
  type StepSpec,
} from './spec';
import { knownTables } from './stages';
import { checkConfig } from './step-config';
import { wireInputs } from './wiring';
import { readYamlFile, type YamlSource } from './yaml-source';

export const RESOLVED_FILE = 'pipeline.resolved.json';

export type ResolvedStageRef =
  | { source: 'builtin'; id: string; version: number }
  | { source: 'module'; id: string; version: number; module: string; export: string; sha256: string }
  | { source: 'external'; id: string; version: number; spec: ExternalStageSpec; cwd: string };

export type ResolvedInput = { step: string; port: string } | { path: string } | { collect: string[] };

export interface ResolvedStep {
  id: string;
  group?: string;
  item?: string;
  description?: string;
  stage: ResolvedStageRef;
  /** What the runner passes to the stage (before defaults). */
  config: Record<string, unknown>;
  /** The same with the stage's defaults applied: what runs. */
  resolvedConfig: Record<string, unknown>;
  configHash: string;
  seed: number;
  inputs: Record<string, ResolvedInput>;
  /** Steps that must finish first (inputs, collects and `after`). */
  dependsOn: string[];
}

export interface ResolvedPipeline {
  format: 'ct.pipeline.resolved';
  version: 1;
  name: string;
  description?: string;
  /** The pipeline file and its sha256 (absent for a pipeline built in code). */
  source?: { file: string; sha256: string };
  overrides: string[];
  seed: number;
  backend: BackendChoice;
  threads?: number;
  /** In execution order. */
  steps: ResolvedStep[];
}

/** A resolved pipeline with the definitions its steps run. */
export interface PipelinePlan {
  pipeline: ResolvedPipeline;
  definitions: ReadonlyMap<string, AnyStageDefinition>;
}

export interface LoadPipelineOptions {
  registry: StageRegistry;
  /** `--set` overrides, already parsed. */
  overrides?: readonly Override[];
  /** Replaces the file's backend (the CLI's --backend). */
  backend?: BackendChoice;
}

/** Reads, checks and resolves a pipeline file. */
export async function loadPipeline(file: string, options: LoadPipelineOptions): Promise<PipelinePlan> {
  const path = resolvePath(file);
  const source = await readYamlFile(path);
  const overrides = options.overrides ?? [];
  const rest = applyDocumentOverrides(source.value, overrides);
  const spec = parsePipeline(source, basename(path).replace(/\.ya?ml$/i, ''));
  applyStepOverrides(spec.steps, rest);
  const plan = await resolveSteps(spec.steps, { source, baseDir: dirname(path), registry: options.registry });
  const pipeline: ResolvedPipeline = {
    format: 'ct.pipeline.resolved',
    version: 1,
    name: spec.name,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    source: { file: path, sha256: await sha256File(path) },
    overrides: overrides.map((o) => `${o.key}=${JSON.stringify(o.value)}`),
    seed: spec.seed,
    backend: options.backend ?? spec.backend ?? 'auto',
    ...(spec.threads === undefined ? {} : { threads: spec.threads }),
    steps: plan.steps.map((step) => ({ ...step, seed: step.seed ?? spec.seed })),
  };
  return { pipeline, definitions: plan.definitions };
}

interface ResolveContext {
  source: YamlSource;
  baseDir: string;
  registry: StageRegistry;
}

type PartialStep = Omit<ResolvedStep, 'seed'> & { seed: number | undefined };

async function resolveSteps(steps: StepSpec[], context: ResolveContext): Promise<{ steps: PartialStep[]; definitions: Map<string, AnyStageDefinition> }> {
  const { source } = context;
  const problems: string[] = [];
  const registry = context.registry;
  const tables = knownTables(registry);
  const definitions = new Map<string, AnyStageDefinition>();
  const refs = new Map<string, ResolvedStageRef>();
  const claimed = new Map<string, { key: string; definition: AnyStageDefinition }>();

  // Stages first: wiring needs every step's ports.
  for (const step of steps) {
    const stagePath = [...step.source.step, 'stage'];
    try {
      const found = await findStage(step, context, tables, claimed);
      definitions.set(step.id, found.definition);
      refs.set(step.id, found.ref);
    } catch (error) {
      if (!(error instanceof CircuitTuningError)) throw error;
      const where = source.has(stagePath) ? source.where(stagePath) : source.where([...step.source.step, 'variant']);
      problems.push(`${where}: step '${step.id}': ${error.message}${error.hint ? ` (${error.hint})` : ''}`);
    }
  }

  const ids = new Set(steps.map((s) => s.id));
  const groups = new Map<string, string[]>();
  for (const step of steps) if (step.group !== undefined) groups.set(step.group, [...(groups.get(step.group) ?? []), step.id]);
  const resolved: PartialStep[] = [];
  for (const [index, step] of steps.entries()) {
    const definition = definitions.get(step.id);
    const ref = refs.get(step.id);
    if (definition === undefined || ref === undefined) continue;
    const before = steps.slice(0, index).map((s) => s.id);
    const config = checkConfig(step, definition, ref, context, problems);
    const inputs = wireInputs(step, definition, { steps, definitions, ids, groups, before }, context, problems);
    const dependsOn = new Set<string>();
    for (const input of Object.values(inputs)) {
      if ('step' in input) dependsOn.add(input.step);
      if ('collect' in input) for (const id of input.collect) dependsOn.add(id);
    }
    for (const [i, id] of step.after.entries()) {
      const members = groups.get(id);
      if (members !== undefined) for (const m of members) dependsOn.add(m);
      else if (ids.has(id)) dependsOn.add(id);
      else problems.push(`${source.where([...step.source.step, 'after', i])}: step '${step.id}': 'after' names unknown step '${id}' (steps: ${[...ids].join(', ')})`);
    }
    if (config === undefined) continue;
    if (ref.source === 'external') {
      // The hashes of the files the command names are part of its config: an edited script reruns the step.
      const files = await commandFiles(ref.spec.command, ref.cwd);
      config.raw = { ...config.raw, files };
      config.parsed = { ...config.parsed, files };
    }
    resolved.push({
      id: step.id,
      ...(step.group === undefined ? {} : { group: step.group, item: step.item as string }),
      ...(step.description === undefined ? {} : { description: step.description }),
      stage: ref,
      config: config.raw,
      resolvedConfig: config.parsed,
      configHash: hashConfig(config.parsed),
      seed: step.seed,
      inputs,
      dependsOn: [...dependsOn],
    });
  }
  if (problems.length > 0) throw configErrors(problems);
  const ordered = topologicalOrder(resolved, steps, source);
  return { steps: ordered, definitions };
}

async function findStage(
  step: StepSpec,
  context: ResolveContext,
  tables: ReturnType<typeof knownTables>,
  claimed: Map<string, { key: string; definition: AnyStageDefinition }>,
): Promise<{ definition: AnyStageDefinition; ref: ResolvedStageRef }> {
  const { registry } = context;
  if (typeof step.stage !== 'string') {
    const spec = step.stage;
    const definition = claim(registry, claimed, JSON.stringify(spec), externalStage(spec, { cwd: context.baseDir, tables }));
    return { definition, ref: { source: 'external', id: stageId(definition), version: definition.version, spec, cwd: context.baseDir } };
  }
  if (isModuleReference(step.stage)) {
    const loaded = await loadModuleStage(step.stage, context.baseDir);
    claim(registry, claimed, `${loaded.file}#${loaded.exportName}`, loaded.definition);
    const ref: ResolvedStageRef = {
      source: 'module',
      id: stageId(loaded.definition),
      version: loaded.definition.version,
      module: loaded.file,
      export: loaded.exportName,
      sha256: loaded.sha256,
    };
    return { definition: loaded.definition, ref };
  }
  const definition = registry.get(step.stage);
  return { definition, ref: { source: 'builtin', id: stageId(definition), version: definition.version } };
}

/**
 * Registers a module or external definition in the pipeline's registry. Two steps may run the same
 * one; a different definition under a taken name (a built-in's, or another user variant's) is refused.
 */
function claim(
  registry: StageRegistry,
  claimed: Map<string, { key: string; definition: AnyStageDefinition }>,
  key: string,
  definition: AnyStageDefinition,
): AnyStageDefinition {
  const id = stageId(definition);
  const previous = claimed.get(id);
  if (previous !== undefined) {
    if (previous.key === key) return previous.definition;
    throw new ConfigError(`two different user stages are both named '${id}'`, { hint: 'give each its own variant name' });
  }
  if (registry.has(id)) throw new ConfigError(`stage '${id}' is already registered`, { hint: 'choose another variant name for your stage' });
  registry.register(definition);
  claimed.set(id, { key, definition });
  return definition;
}

/** Dependency order, stable in the order steps are written; a cycle is a config error. */
function topologicalOrder(steps: PartialStep[], specs: StepSpec[], source: YamlSource): PartialStep[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const done = new Set<string>();
  const ordered: PartialStep[] = [];
  const pending = [...steps];
  while (pending.length > 0) {
    const index = pending.findIndex((s) => s.dependsOn.every((d) => done.has(d) || !byId.has(d)));
    if (index < 0) {
      const stuck = pending.map((s) => s.id);
      const first = specs.find((s) => s.id === stuck[0]);
      throw new ConfigError(`${first ? source.where(first.source.step, { key: true }) : source.file}: the steps ${stuck.join(', ')} depend on each other in a cycle`);
    }
    const [step] = pending.splice(index, 1) as [PartialStep];
    ordered.push(step);
    done.add(step.id);
  }
  return ordered;
}

/**
 * The plan of a pipeline that already ran, from its `pipeline.resolved.json`: built-in stages from
 * the registry, modules imported again, external commands rebuilt. For `verify` and `view`.
 */
export async function planFromResolved(pipeline: ResolvedPipeline, registry: StageRegistry): Promise<PipelinePlan> {
  const definitions = new Map<string, AnyStageDefinition>();
  const tables = knownTables(registry);
  for (const step of pipeline.steps) {
    const ref = step.stage;
    let definition: AnyStageDefinition;
    if (ref.source === 'builtin') definition = registry.get(ref.id);
    else if (ref.source === 'module') {
      const loaded = await loadModuleStage(`${ref.module}#${ref.export}`, '/');
      if (loaded.sha256 !== ref.sha256) throw new ConfigError(`stage module ${ref.module} changed since the run (its sha256 differs)`);
      definition = loaded.definition;
    } else {
      definition = externalStage(ref.spec, { cwd: ref.cwd, tables });
      const files = await commandFiles(ref.spec.command, ref.cwd);
      if (JSON.stringify(files) !== JSON.stringify(step.config.files ?? {})) {
        throw new ConfigError(`step '${step.id}': a file its command names changed since the run`, { hint: `command: ${ref.spec.command.join(' ')}` });
      }
    }
    if (definition.version !== ref.version) {
      throw new ConfigError(`step '${step.id}': ${ref.id} is now version ${definition.version}, the run used version ${ref.version}`, {
        hint: 'the same config and inputs would now give other outputs; rerun the pipeline instead of verifying it',
      });
    }
    definitions.set(step.id, definition);
  }
  return { pipeline, definitions };
}

export function isResolvedPipeline(value: unknown): value is ResolvedPipeline {
  return isRecord(value) && value.format === 'ct.pipeline.resolved' && value.version === 1 && Array.isArray(value.steps);
}
