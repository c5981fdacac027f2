import { TrainLogTable } from '@circuit-tuning/contracts';
import { writeArrowTable } from '@circuit-tuning/runtime';
import type { LogRow } from './train-loop';

/** Writes a run's log rows as a ct.train.log Arrow table (atomically). */
export async function writeTrainLog(path: string, rows: readonly LogRow[], producer: string): Promise<void> {
  const num = (key: string) => rows.map((r) => Number(r[key] ?? 0));
  const nullable = (key: string) => rows.map((r) => (r[key] === null || r[key] === undefined ? null : Number(r[key])));
  const text = (key: string) => rows.map((r) => (r[key] === null || r[key] === undefined ? null : String(r[key])));
  await writeArrowTable(
    path,
    TrainLogTable,
    {
      step: Int32Array.from(num('step')),
      loss: Float32Array.from(num('loss')),
      learning_rate: Float32Array.from(num('learning_rate')),
      grad_norm: Float32Array.from(num('grad_norm')),
      tokens: Float64Array.from(num('tokens')),
      step_ms: Float32Array.from(num('step_ms')),
      trainable_parameters: Int32Array.from(num('trainable_parameters')),
      metric: nullable('metric'),
      circuit_edges: nullable('circuit_edges'),
      circuit_nodes: nullable('circuit_nodes'),
      eval_loss: nullable('eval_loss'),
      empty_circuit: text('empty_circuit'),
    },
    { producer },
  );
}
