/**
 * The pipeline file, as written. A pipeline is a seed, a backend and a list (or map) of steps;
 * each step names a stage (`slot:variant`, a module `./file.ts#export`, or an external command),
 * its config and where its inputs come from (`otherStep.port`, a path, or `{collect: ...}`).
 * References between steps are the DAG.
 *
 * This file turns the YAML into plain step specs and nothing more: unknown keys are errors here,
 * with `file:line:col` and the valid keys; whether a stage, port or config key exists is decided
 * when the steps are resolved against the registry (resolve.ts).
 */
import { ConfigError } from '@circuit-tuning/contracts';
import { z } from 'zod';
import type { YamlPath, YamlSource } from './yaml-source';

export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export const TOP_KEYS = ['name', 'description', 'seed', 'backend', 'threads', 'steps'] as const;
export const STEP_KEYS = ['id', 'stage', 'variant', 'description', 'config', 'inputs', 'seed', 'foreach', 'after'] as const;
export const EXTERNAL_KEYS = ['command', 'slot', 'variant', 'version', 'description', 'inputs', 'outputs', 'env'] as const;
export const INPUT_FORMS = ['step', 'port', 'path', 'collect'] as const;

const NAME = /^[a-z][a-z0-9-]*$/;
/** Step ids name directories of the run: one path segment, nothing that could climb out. */
export const STEP_ID = /^[A-Za-z][A-Za-z0-9_-]*$/;
/** A pipeline's name is the default run directory's (runs/NAME), so it is one path segment too. */
export const PIPELINE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A port as an external command declares it: `model-dir`, `json`, `file`, a table name (`ct.prompts`), or the full spec. */
export const PortShorthand = z.union([
  z.string().min(1),
  z.strictObject({
    kind: z.enum(['arrow', 'model-dir', 'json', 'file']),
    schema: z.string().optional(),
    optional: z.boolean().optional(),
    fileName: z.string().optional(),
    description: z.string().optional(),
  }),
]);
export type PortShorthand = z.infer<typeof PortShorthand>;

/** A variant implemented by another program that reads and writes the same files. */
export const ExternalStageSpec = z.strictObject({
  /** argv; the first element is looked up on PATH. Runs in the pipeline file's directory. */
  command: z.array(z.string().min(1)).min(1),
  slot: z.string().regex(NAME, 'names match ^[a-z][a-z0-9-]*$'),
  variant: z.string().regex(NAME, 'names match ^[a-z][a-z0-9-]*$'),
  version: z.number().int().positive().default(1),
  description: z.string().default('an external command'),
  inputs: z.record(z.string(), PortShorthand).default({}),
  outputs: z.record(z.string(), PortShorthand).refine((o) => Object.keys(o).length > 0, 'an external stage needs at least one output'),
  /** Extra environment variables for the command. */
  env: z.record(z.string(), z.string()).default({}),
});
export type ExternalStageSpec = z.output<typeof ExternalStageSpec>;

/** Where an input comes from. */
export type InputSpec = { step: string; port: string } | { path: string } | { collect: '*' | string[] };

/** One step after parsing (foreach expanded, inline config gathered), before resolution. */
export interface StepSpec {
  id: string;
  /** The id of the `foreach` entry this step was expanded from, and its item. */
  group?: string;
  item?: string;
  /** `slot:variant`, a module reference, or an external command. */
  stage: string | ExternalStageSpec;
  description?: string;
  config: Record<string, unknown>;
  inputs: Record<string, InputSpec>;
  seed?: number;
  after: string[];
  /** Where the step came from, for error messages. */
  source: StepSource;
}

export interface StepSource {
  step: YamlPath;
  /** Places config keys may come from: the step's `config` (or the step itself for inline config), then its foreach item. */
  config: YamlPath[];
}

export interface PipelineSpec {
  name: string;
  description?: string;
  seed: number;
  backend?: BackendChoice;
  threads?: number;
  steps: StepSpec[];
}

/** Thrown with every problem found, one per line, each starting with its `file:line:col`. */
export function configErrors(problems: string[], hint?: string): ConfigError {
  const message = problems.length === 1 ? (problems[0] as string) : `${problems.length} problems in the pipeline:\n  ${problems.join('\n  ')}`;
  return new ConfigError(message, hint === undefined ? undefined : { hint });
}

/**
 * Parses a pipeline document. `defaultName` names the pipeline when the file does not (the file's
 * base name). Every problem is collected, so one run of `ct run` lists all of them.
 */
export function parsePipeline(source: YamlSource, defaultName: string): PipelineSpec {
  const problems: string[] = [];
  const at = (path: YamlPath, key = false) => source.where(path, { key });
  const doc = source.value;
  if (!isRecord(doc)) throw configErrors([`${source.file}: a pipeline is a mapping with 'seed' and 'steps'`]);
  for (const key of Object.keys(doc)) {
    if (!(TOP_KEYS as readonly string[]).includes(key)) problems.push(`${at([key], true)}: unknown key '${key}' (valid: ${TOP_KEYS.join(', ')})`);
  }
  const name = optionalString(doc, 'name', [], source, problems) ?? defaultName;
  if (!PIPELINE_NAME.test(name)) {
    problems.push(
      doc.name === undefined
        ? `${source.file}: the file's name '${name}' cannot name the pipeline (names match ${PIPELINE_NAME}); add a 'name:'`
        : `${at(['name'])}: pipeline name ${JSON.stringify(name)} is not valid (names match ${PIPELINE_NAME}: it names the run directory runs/NAME)`,
    );
  }
  const description = optionalString(doc, 'description', [], source, problems);
  const seed = doc.seed === undefined ? 0 : doc.seed;
  if (!Number.isSafeInteger(seed) || (seed as number) < 0) problems.push(`${at(['seed'])}: seed must be a non-negative integer, got ${JSON.stringify(seed)}`);
  let backend: BackendChoice | undefined;
  if (doc.backend !== undefined) {
    if (typeof doc.backend === 'string' && (BACKEND_CHOICES as readonly string[]).includes(doc.backend)) backend = doc.backend as BackendChoice;
    else problems.push(`${at(['backend'])}: unknown backend ${JSON.stringify(doc.backend)} (valid: ${BACKEND_CHOICES.join(', ')})`);
  }
  let threads: number | undefined;
  if (doc.threads !== undefined) {
    if (Number.isInteger(doc.threads) && (doc.threads as number) > 0) threads = doc.threads as number;
    else problems.push(`${at(['threads'])}: threads must be a positive integer`);
  }

  const entries: { key: string | undefined; value: unknown; path: YamlPath }[] = [];
  if (Array.isArray(doc.steps)) doc.steps.forEach((value, i) => void entries.push({ key: undefined, value, path: ['steps', i] }));
  else if (isRecord(doc.steps)) for (const [key, value] of Object.entries(doc.steps)) entries.push({ key, value, path: ['steps', key] });
  else problems.push(`${at(['steps'])}: 'steps' must be a list or a mapping of steps`);

  const steps: StepSpec[] = [];
  for (const entry of entries) steps.push(...parseStep(entry.key, entry.value, entry.path, source, problems));
  const seen = new Map<string, YamlPath>();
  for (const step of steps) {
    const first = seen.get(step.id);
    if (first !== undefined) problems.push(`${at(step.source.step)}: step id '${step.id}' is used twice (first at ${at(first)})`);
    else seen.set(step.id, step.source.step);
  }
  if (problems.length > 0) throw configErrors(problems);
  return {
    name,
    ...(description === undefined ? {} : { description }),
    seed: seed as number,
    ...(backend === undefined ? {} : { backend }),
    ...(threads === undefined ? {} : { threads }),
    steps,
  };
}

function parseStep(key: string | undefined, raw: unknown, path: YamlPath, source: YamlSource, problems: string[]): StepSpec[] {
  const at = (p: YamlPath, isKey = false) => source.where(p, { key: isKey });
  if (!isRecord(raw)) {
    problems.push(`${at(path)}: a step is a mapping (with 'stage' or 'variant', 'config', 'inputs')`);
    return [];
  }
  const id = raw.id === undefined ? key : raw.id;
  if (typeof id !== 'string' || !STEP_ID.test(id)) {
    problems.push(`${at(raw.id === undefined ? path : [...path, 'id'])}: ${id === undefined ? "a step in a list needs an 'id'" : `step id ${JSON.stringify(id)} is not valid (ids match ${STEP_ID})`}`);
    return [];
  }
  if (key !== undefined && raw.id !== undefined && raw.id !== key) {
    problems.push(`${at([...path, 'id'])}: the step's id '${String(raw.id)}' differs from its key '${key}'`);
  }

  // Without `config:`, every key that is not a step key is config: `discover: {variant: eap-ig, steps: 5}`.
  const inline = raw.config === undefined;
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if ((STEP_KEYS as readonly string[]).includes(k)) continue;
    if (inline) config[k] = v;
    else problems.push(`${at([...path, k], true)}: unknown key '${k}' (valid: ${STEP_KEYS.join(', ')}; stage settings go under 'config')`);
  }
  if (!inline) {
    if (isRecord(raw.config)) Object.assign(config, raw.config);
    else if (raw.config !== null) problems.push(`${at([...path, 'config'])}: 'config' must be a mapping`);
  }

  let stage: string | ExternalStageSpec | undefined;
  if (raw.stage === undefined) {
    if (typeof raw.variant === 'string') stage = `${id}:${raw.variant}`;
    else problems.push(`${at(path, true)}: step '${id}' needs 'stage: slot:variant' (or 'variant:' when the step is named after its slot)`);
  } else if (typeof raw.stage === 'string') {
    stage = raw.stage;
    if (typeof raw.variant === 'string') {
      // `variant` swaps the variant of a registered stage, so a sweep or --set can change it alone.
      const slot = stage.includes(':') ? stage.slice(0, stage.indexOf(':')) : stage;
      if (isModuleReference(stage)) problems.push(`${at([...path, 'variant'], true)}: 'variant' cannot be combined with a module stage`);
      else stage = `${slot}:${raw.variant}`;
    }
  } else if (isRecord(raw.stage)) {
    const parsed = ExternalStageSpec.safeParse(raw.stage);
    if (parsed.success) stage = parsed.data;
    else for (const issue of parsed.error.issues) problems.push(zodProblem(issue, [...path, 'stage'], source, EXTERNAL_KEYS));
  } else {
    problems.push(`${at([...path, 'stage'])}: 'stage' is 'slot:variant', './module.ts#export', or an external command mapping`);
  }
  if (raw.variant !== undefined && typeof raw.variant !== 'string') problems.push(`${at([...path, 'variant'])}: 'variant' must be a name`);

  const inputs: Record<string, InputSpec> = {};
  if (raw.inputs !== undefined) {
    if (!isRecord(raw.inputs)) problems.push(`${at([...path, 'inputs'])}: 'inputs' maps input ports to 'step.port', a path, or {collect: [...]}`);
    else {
      for (const [port, value] of Object.entries(raw.inputs)) {
        const parsed = parseInput(value);
        if (typeof parsed === 'string') problems.push(`${at([...path, 'inputs', port])}: input '${port}': ${parsed}`);
        else inputs[port] = parsed;
      }
    }
  }
  let seed: number | undefined;
  if (raw.seed !== undefined) {
    if (Number.isSafeInteger(raw.seed) && (raw.seed as number) >= 0) seed = raw.seed as number;
    else problems.push(`${at([...path, 'seed'])}: seed must be a non-negative integer`);
  }
  const after = raw.after === undefined ? [] : raw.after;
  if (!Array.isArray(after) || !after.every((x) => typeof x === 'string')) {
    problems.push(`${at([...path, 'after'])}: 'after' is a list of step ids`);
  }
  const description = typeof raw.description === 'string' ? raw.description : undefined;
  if (stage === undefined) return [];
  const base: StepSpec = {
    id,
    stage,
    ...(description === undefined ? {} : { description }),
    config,
    inputs,
    ...(seed === undefined ? {} : { seed }),
    after: Array.isArray(after) ? (after as string[]) : [],
    source: { step: path, config: [inline ? path : [...path, 'config']] },
  };
  if (raw.foreach === undefined) return [base];
  return expandForeach(base, raw.foreach, [...path, 'foreach'], source, problems);
}

/**
 * `foreach: [full, lora]` (or a mapping item → config overrides) makes one step per item, with
 * id `<id>-<item>` and `{item}` replaced in the stage name and in input references.
 */
function expandForeach(base: StepSpec, foreach: unknown, path: YamlPath, source: YamlSource, problems: string[]): StepSpec[] {
  let items: [string, Record<string, unknown>][];
  if (Array.isArray(foreach) && foreach.every((x) => typeof x === 'string')) items = foreach.map((x) => [x as string, {}]);
  else if (isRecord(foreach) && Object.values(foreach).every((v) => v === null || isRecord(v))) {
    items = Object.entries(foreach).map(([k, v]) => [k, (v ?? {}) as Record<string, unknown>]);
  } else {
    problems.push(`${source.where(path)}: 'foreach' is a list of items, or a mapping item → config overrides`);
    return [];
  }
  if (items.length === 0) problems.push(`${source.where(path)}: 'foreach' is empty`);
  const invalid = items.filter(([item]) => !STEP_ID.test(`${base.id}-${item}`));
  for (const [item] of invalid) {
    problems.push(`${source.where(Array.isArray(foreach) ? [...path, foreach.indexOf(item)] : [...path, item], { key: !Array.isArray(foreach) })}: foreach item ${JSON.stringify(item)} would make step id ${JSON.stringify(`${base.id}-${item}`)}, which is not valid (ids match ${STEP_ID})`);
  }
  if (invalid.length > 0) return [];
  return items.map(([item, overrides]) => {
    const sub = (s: string) => s.replaceAll('{item}', item);
    const stage = typeof base.stage === 'string' ? (base.stage.includes('{item}') ? sub(base.stage) : base.stage) : base.stage;
    const inputs = Object.fromEntries(
      Object.entries(base.inputs).map(([port, spec]): [string, InputSpec] => {
        if ('step' in spec) return [port, { step: sub(spec.step), port: sub(spec.port) }];
        if ('path' in spec) return [port, { path: sub(spec.path) }];
        return [port, { collect: spec.collect === '*' ? '*' : spec.collect.map(sub) }];
      }),
    );
    return {
      ...base,
      id: `${base.id}-${item}`,
      group: base.id,
      item,
      stage,
      inputs,
      config: deepMerge(base.config, overrides),
      source: { step: base.source.step, config: [[...path, item], ...base.source.config] },
    };
  });
}

/** `step.port`, a path, `{step, port}`, `{path}`, or `{collect: '*' | [ids]}`; a string message when invalid. */
export function parseInput(value: unknown): InputSpec | string {
  if (typeof value === 'string') {
    const ref = /^([A-Za-z{][A-Za-z0-9_{}-]*)\.([A-Za-z{][A-Za-z0-9_{}-]*)$/.exec(value);
    // Told apart from a file name later, when the step ids are known (resolve.ts).
    if (ref !== null && !value.includes('/')) return { step: ref[1] as string, port: ref[2] as string };
    return { path: value };
  }
  if (!isRecord(value)) return "expected 'step.port', a path, or a mapping with 'step'/'port', 'path' or 'collect'";
  const keys = Object.keys(value);
  const unknown = keys.filter((k) => !(INPUT_FORMS as readonly string[]).includes(k));
  if (unknown.length > 0) return `unknown key '${unknown[0]}' (valid: ${INPUT_FORMS.join(', ')})`;
  if (typeof value.step === 'string' && typeof value.port === 'string' && keys.length === 2) return { step: value.step, port: value.port };
  if (typeof value.path === 'string' && keys.length === 1) return { path: value.path };
  if (keys.length === 1 && (value.collect === '*' || (Array.isArray(value.collect) && value.collect.every((x) => typeof x === 'string')))) {
    return { collect: value.collect as '*' | string[] };
  }
  return "expected {step, port}, {path} or {collect: '*' | [step ids]}";
}

/** `./file.ts#name`, `../x.mjs`, `/abs/file.js#name`: a stage definition exported by a module. */
export function isModuleReference(stage: string): boolean {
  return stage.startsWith('./') || stage.startsWith('../') || stage.startsWith('/') || /\.(m?[jt]s|cjs)(#|$)/.test(stage);
}

/** Objects merge key by key; anything else in `b` replaces `a`. */
export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isRecord(prev) && isRecord(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function optionalString(doc: Record<string, unknown>, key: string, path: YamlPath, source: YamlSource, problems: string[]): string | undefined {
  const value = doc[key];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  problems.push(`${source.where([...path, key])}: '${key}' must be a string`);
  return undefined;
}

/** One zod issue as `file:line:col: message`, with the valid keys for an unknown one. */
export function zodProblem(issue: z.core.$ZodIssue, base: YamlPath, source: YamlSource, validKeys?: readonly string[]): string {
  const path = [...base, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((k) => `${source.where([...path, k], { key: true })}: unknown key '${k}'${validKeys ? ` (valid: ${validKeys.join(', ')})` : ''}`)
      .join('\n  ');
  }
  const where = issue.path.length === 0 ? path.join('.') : issue.path.map(String).join('.');
  return `${source.where(path)}: ${where}: ${issue.message}`;
}
