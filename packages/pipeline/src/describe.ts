/**
 * A stage described for people: its ports and its config keys with their types, choices, defaults
 * and descriptions, read from the definition itself (the zod schema is the single source: each
 * key's `.describe()` text), for `--help` and `stage --list`.
 */
import { type AnyStageDefinition, outputFileName, type PortSpec, stageId } from '@circuit-tuning/runtime';
import { z } from 'zod';

export function describePort(spec: PortSpec): string {
  const what = spec.kind === 'arrow' ? `table ${spec.schema.name}` : spec.kind;
  return `${what}${spec.optional ? ', optional' : ''}${spec.description ? `: ${spec.description}` : ''}`;
}

/** One config key as help shows it: its dotted name, type (with its choices), default and description. */
export interface ConfigKeyHelp {
  /** Dotted path from the config's root (`selection.n`, `optimizer.momentum`). */
  readonly name: string;
  readonly type: string;
  /** The default as JSON; absent when the key has none. */
  readonly default?: string;
  readonly required: boolean;
  readonly description?: string;
  /** Nesting level (0 for a top-level key), for indentation. */
  readonly depth: number;
  /** Set on the `kind` key that heads one alternative of a discriminated union (`optimizer.kind: "adam"`). */
  readonly variantOf?: string;
}

/** Every config key of a stage, nested objects and each alternative of a discriminated union included, in schema order. */
export function configKeys(definition: AnyStageDefinition): ConfigKeyHelp[] {
  const schema = z.toJSONSchema(definition.config, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const keys: ConfigKeyHelp[] = [];
  walkObject(schema, '', 0, keys);
  return keys;
}

/** Config keys as `key: type = default` lines, each followed by its description (indented, wrapped). */
export function describeConfig(definition: AnyStageDefinition): string[] {
  let keys: ConfigKeyHelp[];
  try {
    keys = configKeys(definition);
  } catch {
    return Object.keys(definition.config.shape).map((key) => `${key}`);
  }
  const lines: string[] = [];
  for (const key of keys) {
    const indent = '  '.repeat(key.depth);
    const def = key.default === undefined ? '' : ` = ${key.default}`;
    lines.push(`${indent}${key.name}: ${key.type}${def}${key.required && key.default === undefined && key.variantOf === undefined ? ' (required)' : ''}`);
    if (key.description !== undefined) {
      for (const line of wrap(key.description, HELP_WIDTH - CONFIG_INDENT.length - indent.length - DESCRIPTION_INDENT.length)) {
        lines.push(`${indent}${DESCRIPTION_INDENT}${line}`);
      }
    }
  }
  return lines;
}

/** Help lines are wrapped to this many columns. */
const HELP_WIDTH = 100;
const CONFIG_INDENT = '  ';
const DESCRIPTION_INDENT = '    ';

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  default?: unknown;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  items?: JsonSchema | false;
  prefixItems?: JsonSchema[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

function walkObject(schema: JsonSchema, prefix: string, depth: number, keys: ConfigKeyHelp[]): void {
  const required = new Set(schema.required ?? []);
  for (const [key, value] of Object.entries(schema.properties ?? {})) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    const variants = objectVariants(value);
    keys.push({
      name,
      type: variants === undefined ? typeName(value) : `${variants.choices.map((c) => JSON.stringify(c)).join(' | ')} (by ${name}.${variants.discriminator})`,
      ...(value.default === undefined || isEmptyObject(value.default) ? {} : { default: JSON.stringify(value.default) }),
      required: required.has(key),
      ...(value.description === undefined ? {} : { description: value.description }),
      depth,
    });
    if (value.properties !== undefined) walkObject(value, name, depth + 1, keys);
    if (variants !== undefined) {
      for (const variant of variants.members) {
        const [discriminator, ...fields] = orderedFirst(variant, variants.discriminator);
        keys.push({
          name: `${name}.${variants.discriminator}`,
          type: JSON.stringify(discriminator!.const),
          required: true,
          ...(discriminator!.description === undefined ? {} : { description: discriminator!.description }),
          depth: depth + 1,
          variantOf: name,
        });
        walkObject({ properties: Object.fromEntries(fields.map(([k, v]) => [k, v])), required: variant.required ?? [] }, name, depth + 2, keys);
      }
    }
  }
}

/** The alternatives of a discriminated union of objects (each has a `const` field of the same name), or undefined. */
function objectVariants(schema: JsonSchema): { discriminator: string; choices: unknown[]; members: JsonSchema[] } | undefined {
  const members = schema.oneOf ?? schema.anyOf;
  if (members === undefined || members.length === 0 || !members.every((m) => m.properties !== undefined)) return undefined;
  const discriminator = Object.keys(members[0]!.properties!).find((key) => members.every((m) => m.properties![key]?.const !== undefined));
  if (discriminator === undefined) return undefined;
  return { discriminator, choices: members.map((m) => m.properties![discriminator]!.const), members };
}

/** The object's properties with the discriminator first: [discriminator schema, ...[key, schema] of the others]. */
function orderedFirst(variant: JsonSchema, discriminator: string): [JsonSchema | undefined, ...[string, JsonSchema][]] {
  const others = Object.entries(variant.properties ?? {}).filter(([key]) => key !== discriminator);
  return [variant.properties?.[discriminator], ...others];
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}

function typeName(schema: JsonSchema): string {
  if (schema.enum !== undefined) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined) return alternatives.map(typeName).join(' | ');
  if (schema.type === 'array') {
    if (schema.prefixItems !== undefined) return `[${schema.prefixItems.map(typeName).join(', ')}]`;
    const item = schema.items ? typeName(schema.items) : 'value';
    return item.includes(' | ') ? `(${item})[]` : `${item}[]`;
  }
  if (schema.properties !== undefined) return 'object';
  if (typeof schema.additionalProperties === 'object') return `{ [key: string]: ${typeName(schema.additionalProperties)} }`;
  if (Array.isArray(schema.type)) return schema.type.join(' | ');
  return schema.type ?? 'any';
}

/** Splits text into lines of at most `width` characters at spaces (a longer word stays whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** The full help of a stage: what it does, its ports, its config. */
export function stageHelp(definition: AnyStageDefinition): string {
  const lines = [`${stageId(definition)} (version ${definition.version}): ${definition.description}`, '', 'inputs:'];
  const inputs = Object.entries(definition.inputs);
  if (inputs.length === 0) lines.push('  (none)');
  for (const [port, spec] of inputs) lines.push(`  ${port}  ${describePort(spec)}`);
  lines.push('', 'outputs (in the stage directory):');
  for (const [port, spec] of Object.entries(definition.outputs)) lines.push(`  ${port} → ${outputFileName(port, spec)}  ${describePort(spec)}`);
  lines.push('', 'config (key: type = default, then what it does; nested keys are written with dots):');
  const config = describeConfig(definition);
  if (config.length === 0) lines.push('  (none)');
  for (const line of config) lines.push(`${CONFIG_INDENT}${line}`);
  return lines.join('\n');
}
