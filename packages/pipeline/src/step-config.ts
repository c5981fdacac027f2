/**
 * A step's config checked against its stage's zod schema, with every problem at its position in
 * the pipeline file (inline config, `config:`, or a foreach item's overrides) and, for unknown
 * keys, the valid ones at that level.
 */
import { type AnyStageDefinition, stageId } from '@circuit-tuning/runtime';
import type { z } from 'zod';
import type { ResolvedStageRef } from './resolve';
import type { StepSpec } from './spec';
import type { YamlSource } from './yaml-source';

/** Checks a step's config against its stage, with positions; returns the raw and parsed config. */
export function checkConfig(
  step: StepSpec,
  definition: AnyStageDefinition,
  ref: ResolvedStageRef,
  context: { source: YamlSource },
  problems: string[],
): { raw: Record<string, unknown>; parsed: Record<string, unknown> } | undefined {
  const { source } = context;
  const id = stageId(definition);
  const where = (path: readonly (string | number)[], key = false) => {
    for (const base of step.source.config) if (source.has([...base, ...path])) return source.where([...base, ...path], { key });
    return source.where(step.source.config[0] ?? step.source.step);
  };
  if (ref.source === 'external') {
    // An external command validates its own settings; the manifest records them with the command.
    return { raw: { command: ref.spec.command, params: step.config }, parsed: { command: ref.spec.command, params: step.config } };
  }
  const schema = definition.config;
  const valid = Object.keys(schema.shape);
  let ok = true;
  for (const key of Object.keys(step.config)) {
    if (!valid.includes(key)) {
      ok = false;
      problems.push(`${where([key], true)}: step '${step.id}' (${id}): unknown config key '${key}' (valid: ${valid.join(', ') || 'none; this stage takes no config'})`);
    }
  }
  if (!ok) return undefined;
  const parsed = schema.safeParse(step.config);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
      if (issue.code === 'unrecognized_keys') {
        const keys = keysAt(schema, path);
        for (const key of issue.keys) {
          problems.push(`${where([...path, key], true)}: step '${step.id}' (${id}): unknown config key '${[...path, key].join('.')}'${keys ? ` (valid: ${keys.join(', ')})` : ''}`);
        }
      } else {
        problems.push(`${where(path)}: step '${step.id}' (${id}): config.${path.join('.') || '(root)'}: ${issue.message}`);
      }
    }
    return undefined;
  }
  return { raw: step.config, parsed: parsed.data as Record<string, unknown> };
}

/** The keys of the object schema at a path inside a config schema (through defaults and optionals). */
function keysAt(schema: z.ZodType, path: readonly (string | number)[]): string[] | undefined {
  let node: unknown = schema;
  for (const segment of [...path, undefined]) {
    for (let i = 0; i < 10; i++) {
      const inner = (node as { def?: { innerType?: unknown } }).def?.innerType;
      if (inner === undefined) break;
      node = inner;
    }
    const shape = (node as { shape?: Record<string, unknown> }).shape;
    if (shape === undefined || typeof shape !== 'object') return undefined;
    if (segment === undefined) return Object.keys(shape);
    node = shape[String(segment)];
    if (node === undefined) return undefined;
  }
  return undefined;
}

