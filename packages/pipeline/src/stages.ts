/**
 * The stages the CLI knows by name. A new variant (evaluation, redundancy) plugs
 * in by adding its definition to BUILTIN_STAGES: it then has its own command
 * (`circuit-tuning slot:variant --help`), can be named in any pipeline, and is listed in the
 * errors that name the valid choices. Nothing else in the app changes.
 */
import type { TableSchema } from '@circuit-tuning/contracts';
import { discoverStages, exportMibStage } from '@circuit-tuning/discovery/stages';
import { evaluateStages } from '@circuit-tuning/evaluation/stages';
import { loadModelStage } from '@circuit-tuning/model/stages';
import { redundancyStages } from '@circuit-tuning/redundancy/stages';
import { reportStage } from '@circuit-tuning/report/stages';
import { type AnyStageDefinition, StageRegistry } from '@circuit-tuning/runtime';
import { generateTasksStage, importPairsStage, importSubjectVerbStage, importWinoBiasStage } from '@circuit-tuning/tasks/stages';
import { circuitLoraStage, circuitTuningStage, fixedCircuitStage, fullTrainingStage, loraTrainingStage, randomCircuitStage } from '@circuit-tuning/training/stages';

export const BUILTIN_STAGES: readonly AnyStageDefinition[] = [
  generateTasksStage,
  importPairsStage,
  importSubjectVerbStage,
  importWinoBiasStage,
  loadModelStage,
  ...Object.values(discoverStages),
  exportMibStage,
  fullTrainingStage,
  loraTrainingStage,
  circuitTuningStage,
  randomCircuitStage,
  fixedCircuitStage,
  circuitLoraStage,
  ...Object.values(redundancyStages),
  ...Object.values(evaluateStages),
  reportStage,
];

/** A fresh registry holding the built-in stages (a pipeline adds its module and external variants to its own copy). */
export function builtinRegistry(): StageRegistry {
  const registry = new StageRegistry();
  for (const definition of BUILTIN_STAGES) registry.register(definition);
  return registry;
}

/** Every Arrow table schema some registered stage reads or writes, by name (for external stages' ports). */
export function knownTables(registry: StageRegistry): Map<string, TableSchema> {
  const tables = new Map<string, TableSchema>();
  for (const definition of registry.list()) {
    for (const spec of [...Object.values(definition.inputs), ...Object.values(definition.outputs)]) {
      if (spec.kind === 'arrow') tables.set(spec.schema.name, spec.schema);
    }
  }
  return tables;
}
