/**
 * A step's inputs wired: references to other steps' outputs (checked for port, kind and table
 * schema), paths relative to the pipeline file (checked to exist), and `{collect: ...}` lists
 * (a run index is written for them when the step runs). A run-index input left unwired collects
 * every earlier step.
 */
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { type AnyStageDefinition, type PortSpec, RunIndex, stageId } from '@circuit-tuning/runtime';
import type { ResolvedInput } from './resolve';
import type { StepSpec } from './spec';
import type { YamlSource } from './yaml-source';

export interface WiringScope {
  steps: StepSpec[];
  definitions: ReadonlyMap<string, AnyStageDefinition>;
  ids: ReadonlySet<string>;
  groups: ReadonlyMap<string, string[]>;
  /** Steps written before this one (what `collect: '*'` takes). */
  before: string[];
}

export function wireInputs(step: StepSpec, definition: AnyStageDefinition, scope: WiringScope, context: { source: YamlSource; baseDir: string }, problems: string[]): Record<string, ResolvedInput> {
  const { source } = context;
  const id = stageId(definition);
  const inputsPath = [...step.source.step, 'inputs'];
  const at = (port: string) => (source.has([...inputsPath, port]) ? source.where([...inputsPath, port]) : source.where(step.source.step, { key: true }));
  const describePorts = () =>
    Object.entries(definition.inputs)
      .map(([port, spec]) => `${port} (${describePort(spec)}${spec.optional ? ', optional' : ''})`)
      .join(', ') || 'none';
  const wired: Record<string, ResolvedInput> = {};
  for (const [port, input] of Object.entries(step.inputs)) {
    const spec = Object.hasOwn(definition.inputs, port) ? definition.inputs[port] : undefined;
    if (spec === undefined) {
      problems.push(`${source.where([...inputsPath, port], { key: true })}: step '${step.id}' (${id}) has no input '${port}' (inputs: ${describePorts()})`);
      continue;
    }
    if ('collect' in input) {
      const members: string[] = [];
      for (const name of input.collect === '*' ? scope.before : input.collect) {
        const group = scope.groups.get(name);
        if (group !== undefined) members.push(...group);
        else if (scope.ids.has(name) && name !== step.id) members.push(name);
        else problems.push(`${at(port)}: step '${step.id}': collect names unknown step '${name}' (steps: ${[...scope.ids].join(', ')})`);
      }
      if (spec.kind !== 'json') problems.push(`${at(port)}: step '${step.id}': input '${port}' takes ${describePort(spec)}; only a JSON input can collect steps`);
      wired[port] = { collect: [...new Set(members)] };
      continue;
    }
    if ('step' in input && !scope.ids.has(input.step) && !scope.groups.has(input.step)) {
      // `model.safetensors` looks like a reference; a file by that name settles it.
      const asPath = resolvePath(context.baseDir, `${input.step}.${input.port}`);
      if (existsSync(asPath)) {
        wired[port] = { path: asPath };
        continue;
      }
      problems.push(`${at(port)}: step '${step.id}': input '${port}' refers to unknown step '${input.step}' (steps: ${[...scope.ids].join(', ')})`);
      continue;
    }
    if ('step' in input) {
      const group = scope.groups.get(input.step);
      if (group !== undefined) {
        problems.push(`${at(port)}: step '${step.id}': '${input.step}' was expanded by foreach into ${group.join(', ')}; refer to one of them`);
        continue;
      }
      if (input.step === step.id) {
        problems.push(`${at(port)}: step '${step.id}': input '${port}' refers to the step itself`);
        continue;
      }
      const upstream = scope.definitions.get(input.step);
      if (upstream === undefined) continue; // its own problem is already reported
      const out = Object.hasOwn(upstream.outputs, input.port) ? upstream.outputs[input.port] : undefined;
      if (out === undefined) {
        problems.push(
          `${at(port)}: step '${step.id}': step '${input.step}' (${stageId(upstream)}) has no output '${input.port}' (outputs: ${Object.keys(upstream.outputs).join(', ')})`,
        );
        continue;
      }
      const mismatch = portMismatch(out, spec);
      if (mismatch !== undefined) {
        problems.push(`${at(port)}: step '${step.id}': '${input.step}.${input.port}' is ${describePort(out)} but input '${port}' of ${id} takes ${describePort(spec)}${mismatch}`);
        continue;
      }
      wired[port] = { step: input.step, port: input.port };
      continue;
    }
    const path = resolvePath(context.baseDir, input.path);
    if (!existsSync(path)) {
      problems.push(`${at(port)}: step '${step.id}': input '${port}': no such file or directory ${path}`);
      continue;
    }
    wired[port] = { path };
  }
  for (const [port, spec] of Object.entries(definition.inputs)) {
    if (Object.hasOwn(step.inputs, port)) continue;
    if (spec.kind === 'json' && spec.schema === RunIndex) {
      // A run-index input left unwired collects every earlier step: `report: {variant: html}` is enough.
      wired[port] = { collect: scope.before.filter((s) => s !== step.id) };
      continue;
    }
    if (spec.optional !== true) {
      problems.push(`${source.where(step.source.step, { key: true })}: step '${step.id}' (${id}): required input '${port}' is not wired (inputs: ${describePorts()})`);
    }
  }
  return wired;
}

function describePort(spec: PortSpec): string {
  return spec.kind === 'arrow' ? `table ${spec.schema.name}` : spec.kind;
}

function portMismatch(out: PortSpec, input: PortSpec): string | undefined {
  if (out.kind !== input.kind) return '';
  if (out.kind === 'arrow' && input.kind === 'arrow') {
    if (out.schema.name !== input.schema.name) return '';
    if (out.schema.version !== input.schema.version) return ` (schema versions ${out.schema.version} and ${input.schema.version})`;
  }
  return undefined;
}

