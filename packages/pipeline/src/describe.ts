/**
 * A stage described for people: its ports and its config keys with their defaults, read from the
 * definition itself (the zod schema is the single source), for `--help` and `stage --list`.
 */
import { type AnyStageDefinition, outputFileName, type PortSpec, stageId } from '@circuit-tuning/runtime';
import { z } from 'zod';

export function describePort(spec: PortSpec): string {
  const what = spec.kind === 'arrow' ? `table ${spec.schema.name}` : spec.kind;
  return `${what}${spec.optional ? ', optional' : ''}${spec.description ? `: ${spec.description}` : ''}`;
}

/** Config keys as `key: type = default` lines, nested objects flattened with dots (two levels). */
export function describeConfig(definition: AnyStageDefinition): string[] {
  let schema: JsonSchema;
  try {
    schema = z.toJSONSchema(definition.config, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  } catch {
    return Object.keys(definition.config.shape).map((key) => `${key}`);
  }
  const lines: string[] = [];
  walk(schema, '', 0, lines);
  return lines;
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
}

function walk(schema: JsonSchema, prefix: string, depth: number, lines: string[]): void {
  for (const [key, value] of Object.entries(schema.properties ?? {})) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (value.properties !== undefined && depth < 1) {
      walk(value, name, depth + 1, lines);
      continue;
    }
    const def = value.default === undefined ? '' : ` = ${JSON.stringify(value.default)}`;
    lines.push(`${name}: ${typeName(value)}${def}`);
  }
}

function typeName(schema: JsonSchema): string {
  if (schema.enum !== undefined) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined) return alternatives.map(typeName).join(' | ');
  if (schema.type === 'array') return `${schema.items ? typeName(schema.items) : 'value'}[]`;
  if (schema.properties !== undefined) return `{${Object.keys(schema.properties).join(', ')}}`;
  if (Array.isArray(schema.type)) return schema.type.join(' | ');
  return schema.type ?? 'any';
}

/** The full help of a stage: what it does, its ports, its config. */
export function stageHelp(definition: AnyStageDefinition): string {
  const lines = [`${stageId(definition)} (version ${definition.version}): ${definition.description}`, '', 'inputs:'];
  const inputs = Object.entries(definition.inputs);
  if (inputs.length === 0) lines.push('  (none)');
  for (const [port, spec] of inputs) lines.push(`  ${port}  ${describePort(spec)}`);
  lines.push('', 'outputs (in the stage directory):');
  for (const [port, spec] of Object.entries(definition.outputs)) lines.push(`  ${port} → ${outputFileName(port, spec)}  ${describePort(spec)}`);
  lines.push('', 'config (key: type = default):');
  const config = describeConfig(definition);
  if (config.length === 0) lines.push('  (none)');
  for (const line of config) lines.push(`  ${line}`);
  return lines.join('\n');
}
