import { ModelNodesTable, ModelParametersTable } from '@circuit-tuning/contracts';
import { defineStage, writeArrowTable } from '@circuit-tuning/runtime';
import { z } from 'zod';
import { loadModel } from '../checkpoint/load';
import { DEFAULT_MAX_SHARD_SIZE, saveModel } from '../checkpoint/save';
import { parseShardSize } from '../safetensors/index';
import type { TransformerModel } from '../transformer/model';
import { parameterSlicesOf, sliceParameterCount } from '../transformer/parameter-slices';

/**
 * The first stage: read a model directory, check it thoroughly, and hand the pipeline a copy in
 * the canonical layout (F32, no key prefix) plus tables describing its parameters and nodes.
 * Later stages read only this stage's outputs, so what they see is hashed in a manifest.
 */
export const loadModelStage = defineStage({
  slot: 'load',
  variant: 'hf',
  version: 1,
  description: 'Load a Hugging Face-layout model directory (GPT-2 or Llama) and describe its parameters and nodes.',
  config: z.strictObject({
    /** Whether the source directory must hold tokenizer files. */
    tokenizer: z.enum(['required', 'optional']).default('required').describe('whether the source directory must hold tokenizer files'),
    /** The dtype of the weights written to the output copy. */
    dtype: z.enum(['F32', 'F16', 'BF16']).default('F32').describe('the dtype of the weights written to the output copy'),
    /** Weights above this size are written as shards with an index (transformers' max_shard_size). */
    maxShardSize: z
      .union([z.number().int().positive(), z.string()])
      .default(DEFAULT_MAX_SHARD_SIZE)
      .refine((v) => isShardSize(v), { message: 'a size such as "5GB", "500MB", "2GiB", or a byte count' })
      .describe(
        'weights above this size are written as shards with an index (transformers\' max_shard_size): a size such as "5GB", "500MB", "2GiB", or a byte count',
      ),
  }),
  inputs: { source: { kind: 'model-dir' } },
  outputs: {
    model: { kind: 'model-dir' },
    parameters: { kind: 'arrow', schema: ModelParametersTable },
    nodes: { kind: 'arrow', schema: ModelNodesTable },
  },
  async run(ctx) {
    const model = await loadModel(ctx.inputs.source, { tokenizer: ctx.config.tokenizer });
    try {
      await saveModel(model, ctx.output('model'), { dtype: ctx.config.dtype, maxShardSize: ctx.config.maxShardSize });
      const specs = model.params.specs;
      await writeArrowTable(
        ctx.output('parameters'),
        ModelParametersTable,
        {
          name: specs.map((s) => s.name),
          shape: specs.map((s) => s.shape),
          size: Int32Array.from(specs.map((s) => s.shape.reduce((a, b) => a * b, 1))),
          role: specs.map((s) => s.role),
        },
        { producer: ctx.producer },
      );
      const nodes = nodeRows(model);
      await writeArrowTable(ctx.output('nodes'), ModelNodesTable, nodes, { producer: ctx.producer });
      ctx.logger.info('loaded', { architecture: model.config.architecture, parameters: model.params.count() });
      return {
        summary: {
          architecture: model.config.architecture,
          layers: model.config.nLayers,
          heads: model.config.nHeads,
          dModel: model.config.dModel,
          parameters: model.params.count(),
          edges: model.graph().edgeCount,
        },
      };
    } finally {
      model.dispose();
    }
  },
});

function isShardSize(value: number | string): boolean {
  try {
    parseShardSize(value);
    return true;
  } catch {
    return false;
  }
}

function nodeRows(model: TransformerModel) {
  const graph = model.graph();
  const rows = [
    ...graph.writers.map((w) => ({ name: w.name, kind: w.kind, layer: w.layer, head: w.kind === 'head' ? w.head : -1, role: 'writer' })),
    ...graph.readers.map((r) => ({ name: r.name, kind: r.kind, layer: r.layer, head: r.kind === 'head' ? r.head : -1, role: 'reader' })),
  ].filter((row, i, all) => all.findIndex((o) => o.name === row.name) === i); // an MLP is both; list it once
  return {
    name: rows.map((r) => r.name),
    kind: rows.map((r) => r.kind),
    layer: Int32Array.from(rows.map((r) => r.layer)),
    head: Int32Array.from(rows.map((r) => r.head)),
    role: rows.map((r) => (r.kind === 'mlp' ? 'writer+reader' : r.role)),
    parameters: Int32Array.from(rows.map((r) => sliceParameterCount(model.params, parameterSlicesOf(model.config, r.name)))),
  };
}
