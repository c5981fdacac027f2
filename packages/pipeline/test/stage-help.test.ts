/**
 * `SLOT:VARIANT --help` documents every config key (issue 16): each key of each built-in stage is
 * listed with its description, closed sets name their members (metric names from discovery's
 * registry, the optimizer kinds with their own fields). The keys are read from the zod schemas
 * directly, not from describe.ts's walk, so a key the help leaves out fails here.
 */
import { metricNames } from '@circuit-tuning/discovery';
import { type AnyStageDefinition, stageId } from '@circuit-tuning/runtime';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { stageHelp } from '../src/describe';
import { builtinRegistry } from '../src/stages';

interface SchemaKey {
  readonly path: string;
  readonly description: string | undefined;
}

/** zod internals this walk reads: the def's type and the wrapped/contained schemas. */
interface ZodDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
}
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;

/** The schema under optional/default/prefault/nullable/readonly/pipe wrappers, and the first description met on the way. */
function unwrap(schema: z.ZodType): { inner: z.ZodType; description: string | undefined } {
  let inner = schema;
  let description = z.globalRegistry.get(inner)?.description;
  for (;;) {
    const def = defOf(inner);
    const next = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
    if (next === undefined) return { inner, description };
    inner = next;
    description ??= z.globalRegistry.get(inner)?.description;
  }
}

/** Every key of an object schema, nested objects and the fields of each union alternative included. */
function schemaKeys(shape: Record<string, z.ZodType>, prefix = ''): SchemaKey[] {
  const keys: SchemaKey[] = [];
  for (const [key, value] of Object.entries(shape)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const { inner, description } = unwrap(value);
    keys.push({ path, description });
    const def = defOf(inner);
    if (def.type === 'object') keys.push(...schemaKeys(def.shape!, path));
    if (def.type === 'union') {
      for (const option of def.options!) {
        const optionDef = defOf(unwrap(option).inner);
        if (optionDef.type === 'object') keys.push(...schemaKeys(optionDef.shape!, path));
      }
    }
  }
  return keys;
}

const collapse = (text: string) => text.replace(/\s+/g, ' ').trim();

/** The description lines printed under each occurrence of `path:` in the help (up to the next key line). */
function helpDescriptions(help: string, path: string, allPaths: ReadonlySet<string>): string[] {
  const lines = help.split('\n');
  const config = lines.findIndex((line) => line.startsWith('config'));
  const isKeyLine = (line: string) => [...allPaths].some((p) => line.trimStart().startsWith(`${p}: `));
  const found: string[] = [];
  for (let i = config + 1; i < lines.length; i++) {
    if (!lines[i]!.trimStart().startsWith(`${path}: `)) continue;
    const block: string[] = [];
    for (let j = i + 1; j < lines.length && !isKeyLine(lines[j]!) && lines[j]!.trim() !== ''; j++) block.push(lines[j]!);
    found.push(collapse(block.join(' ')));
  }
  return found;
}

const stages: AnyStageDefinition[] = builtinRegistry().list();

describe('stage help', () => {
  it('lists every config key of every built-in stage with its description', () => {
    expect(stages.length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const definition of stages) {
      const keys = schemaKeys(definition.config.shape);
      const help = stageHelp(definition);
      const paths = new Set(keys.map((key) => key.path));
      for (const key of keys) {
        const where = `${stageId(definition)} ${key.path}`;
        if (key.description === undefined || key.description.trim() === '') {
          problems.push(`${where}: no description in the schema`);
          continue;
        }
        const printed = helpDescriptions(help, key.path, paths);
        if (printed.length === 0) problems.push(`${where}: not in the help`);
        else if (!printed.some((text) => text.includes(collapse(key.description!)))) problems.push(`${where}: help does not print its description`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('wraps descriptions at 100 columns', () => {
    for (const definition of stages) {
      const config = stageHelp(definition).split('\n\nconfig')[1]!;
      const long = config.split('\n').filter((line) => line.length > 100 && line.trimStart().includes(' '));
      // A key line with a long type (an enum, a default list) may be wider; a description line may not.
      const keyLine = /^\s+[\w.]+: /;
      expect(long.filter((line) => !keyLine.test(line)), stageId(definition)).toEqual([]);
    }
  });

  it('names the valid metrics, from the metric registry', () => {
    const names = metricNames();
    expect(names).toContain('logit-diff');
    for (const [id, path] of [
      ['discover:eap', 'metric'],
      ['discover:eap-ig', 'metric'],
      ['redundancy:curves', 'metric'],
      ['train:circuit-tuning', 'discovery.metric'],
    ] as const) {
      const definition = builtinRegistry().get(id);
      const paths = new Set(schemaKeys(definition.config.shape).map((key) => key.path));
      const [description] = helpDescriptions(stageHelp(definition), path, paths);
      for (const name of names) expect(description, `${id} ${path}`).toContain(name);
    }
  });

  it('shows each optimizer kind of train:full with its own fields', () => {
    const help = stageHelp(builtinRegistry().get('train:full'));
    expect(help).toMatch(/ {2}optimizer: "sgd" \| "adam" \| "adamw" \(by optimizer\.kind\) = \{"kind":"sgd","momentum":0\.9,"weightDecay":0\.0001\}\n/);
    const kinds = help.split(/\n\s+optimizer\.kind: /).slice(1);
    expect(kinds.map((block) => block.split('\n')[0])).toEqual(['"sgd"', '"adam"', '"adamw"']);
    const fields = (block: string) => [...block.matchAll(/^\s+optimizer\.(\w+): (\w+)( = [^\n]+)?$/gm)].map((m) => `${m[1]}: ${m[2]}${m[3] ?? ''}`);
    expect(fields(kinds[0]!)).toEqual(['momentum: number = 0.9', 'weightDecay: number = 0.0001']);
    expect(fields(kinds[1]!)).toEqual(['beta1: number = 0.9', 'beta2: number = 0.999', 'epsilon: number = 1e-8', 'weightDecay: number = 0']);
    expect(fields(kinds[2]!.split(/\n {2}\w/)[0]!)).toEqual(['beta1: number = 0.9', 'beta2: number = 0.999', 'epsilon: number = 1e-8', 'weightDecay: number = 0.01']);
  });
});
