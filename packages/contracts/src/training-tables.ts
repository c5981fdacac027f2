import { defineTableSchema } from './table-schemas';

/** The per-step log of a training run (full training, fine-tuning, circuit-tuning, LoRA). */
export const TrainLogTable = defineTableSchema({
  name: 'ct.train.log',
  // Version 2: empty_circuit.
  version: 2,
  description: 'One row per optimisation step; circuit and evaluation columns are null where they do not apply.',
  fields: [
    { name: 'step', type: 'int32', nullable: false },
    { name: 'loss', type: 'float32', nullable: false },
    { name: 'learning_rate', type: 'float32', nullable: false },
    { name: 'grad_norm', type: 'float32', nullable: false },
    { name: 'tokens', type: 'float64', nullable: false, description: 'tokens seen so far, this step included' },
    { name: 'step_ms', type: 'float32', nullable: false },
    { name: 'trainable_parameters', type: 'int32', nullable: false, description: 'exact count of the entries this step could change' },
    { name: 'metric', type: 'float32', nullable: true },
    { name: 'circuit_edges', type: 'int32', nullable: true },
    { name: 'circuit_nodes', type: 'int32', nullable: true },
    { name: 'eval_loss', type: 'float32', nullable: true },
    {
      name: 'empty_circuit',
      type: 'utf8',
      nullable: true,
      description: "what a step whose circuit owned no parameters did: 'skipped' or 'kept-previous' (emptyCircuit policy); null otherwise",
    },
  ],
});

/** The circuit a circuit-tuning run trained, every few steps: how it evolves can be drawn from it. */
export const CircuitLogTable = defineTableSchema({
  name: 'ct.train.circuit',
  version: 1,
  description: 'One row per (step, kept edge) at the logged steps.',
  fields: [
    { name: 'step', type: 'int32', nullable: false },
    { name: 'edge', type: 'utf8', nullable: false },
    { name: 'score', type: 'float32', nullable: false },
    { name: 'rank', type: 'int32', nullable: false },
  ],
});
