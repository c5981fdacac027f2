/**
 * `--set KEY=VALUE` and sweep grid keys: changes to a pipeline without editing its file.
 * A key is a top-level setting (`seed`, `backend`) or `STEP.PATH` where STEP is a step id as
 * written (`discover.variant`, `discover.config.selection.n`, `train.foreach`) or as expanded by
 * foreach (`train-lora.config.steps`). Values are YAML (`3`, `true`, `[0.1, 0.5]`, `eap-ig`).
 */
import { ConfigError } from '@circuit-tuning/contracts';
import { parse as parseYamlValue } from 'yaml';
import { isModuleReference, isRecord, parseInput, STEP_KEYS, type StepSpec, TOP_KEYS } from './spec';

export interface Override {
  key: string;
  path: string[];
  value: unknown;
}

/** Parses `a.b.c=value`; the value is read as YAML. */
export function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set '${text}': expected KEY=VALUE`, { hint: 'for example --set discover.variant=eap-ig or --set seed=3' });
  const key = text.slice(0, eq).trim();
  const path = key.split('.');
  if (path.some((p) => p === '')) throw new ConfigError(`--set '${text}': '${key}' is not a key path`);
  let value: unknown;
  try {
    value = parseYamlValue(text.slice(eq + 1));
  } catch (error) {
    throw new ConfigError(`--set '${text}': the value is not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
  return { key, path, value: value ?? null };
}

/**
 * Applies the overrides that address the document as written: top-level keys and steps by their
 * written id. Returns the ones left for expanded steps (see applyStepOverrides).
 */
export function applyDocumentOverrides(doc: unknown, overrides: readonly Override[]): Override[] {
  if (!isRecord(doc)) return [...overrides];
  const rest: Override[] = [];
  for (const override of overrides) {
    const [head, ...tail] = override.path as [string, ...string[]];
    if ((TOP_KEYS as readonly string[]).includes(head) && head !== 'steps') {
      if (tail.length > 0) throw new ConfigError(`--set ${override.key}: '${head}' has no sub-keys`);
      doc[head] = override.value;
      continue;
    }
    const step = findWrittenStep(doc.steps, head);
    if (step === undefined || tail.length === 0) {
      rest.push(override);
      continue;
    }
    setPath(step, tail, override.value, override.key);
  }
  return rest;
}

/** Applies the remaining overrides to steps made by `foreach`; an override no step takes is an error. */
export function applyStepOverrides(steps: StepSpec[], overrides: readonly Override[], topKeys: readonly string[] = TOP_KEYS): void {
  for (const override of overrides) {
    const [head, ...tail] = override.path as [string, ...string[]];
    const step = steps.find((s) => s.id === head);
    if (step === undefined || tail.length === 0) {
      const valid = [...topKeys.filter((k) => k !== 'steps'), ...steps.map((s) => `${s.id}.…`)];
      throw new ConfigError(`--set ${override.key}: no setting or step '${head}'`, { hint: `valid: ${valid.join(', ')}` });
    }
    const [field, ...rest] = tail as [string, ...string[]];
    if (field === 'config') {
      if (rest.length === 0) {
        if (!isRecord(override.value)) throw new ConfigError(`--set ${override.key}: config must be a mapping`);
        step.config = override.value;
      } else setPath(step.config, rest, override.value, override.key);
    } else if (field === 'variant' && rest.length === 0) {
      if (typeof step.stage !== 'string' || isModuleReference(step.stage)) throw new ConfigError(`--set ${override.key}: step '${head}' does not run a registered stage`);
      step.stage = `${step.stage.split(':')[0]}:${String(override.value)}`;
    } else if (field === 'stage' && rest.length === 0) {
      if (typeof override.value !== 'string') throw new ConfigError(`--set ${override.key}: expected 'slot:variant'`);
      step.stage = override.value;
    } else if (field === 'seed' && rest.length === 0) {
      if (!Number.isSafeInteger(override.value) || (override.value as number) < 0) throw new ConfigError(`--set ${override.key}: a seed is a non-negative integer`);
      step.seed = override.value as number;
    } else if (field === 'inputs' && rest.length === 1) {
      const parsed = parseInput(override.value);
      if (typeof parsed === 'string') throw new ConfigError(`--set ${override.key}: ${parsed}`);
      step.inputs[rest[0] as string] = parsed;
    } else if (!(STEP_KEYS as readonly string[]).includes(field)) {
      // Inline config, as in the file: `--set train-lora.steps=3`.
      setPath(step.config, tail, override.value, override.key);
    } else {
      throw new ConfigError(`--set ${override.key}: '${field}' cannot be set on an expanded step`, { hint: `set it on the step as written ('${step.group ?? head}')` });
    }
  }
}

function findWrittenStep(steps: unknown, id: string): Record<string, unknown> | undefined {
  if (Array.isArray(steps)) return steps.find((s): s is Record<string, unknown> => isRecord(s) && s.id === id);
  if (isRecord(steps)) {
    const step = steps[id];
    return isRecord(step) ? step : undefined;
  }
  return undefined;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown, key: string): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    const next = node[segment];
    if (next === undefined || next === null) node[segment] = {};
    else if (!isRecord(next)) throw new ConfigError(`--set ${key}: '${segment}' is not a mapping`);
    node = node[segment] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}
