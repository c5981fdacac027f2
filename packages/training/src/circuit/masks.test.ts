import { buildGraph, type ModelGraph, ParameterMappingConfig } from '@circuit-tuning/contracts';
import {
  gpt2Config,
  llamaConfig,
  type ModelConfig,
  parameterSlicesOf,
  parameterSpecs,
  sliceMasks,
  sliceParameterCount,
  TransformerModel,
} from '@circuit-tuning/model';
import { ensureBackend, tf } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { adam, sgd } from '../optim/index';
import { nextTokenLoss } from '../loop/loss';
import { CircuitParameterMap, circuitMasks, parameterOwners } from './masks';

beforeAll(() => ensureBackend());

const edgesOf = (graph: ModelGraph, names: string[]): number[] => {
  const all = graph.edgeNames();
  return names.map((name) => {
    const e = all.indexOf(name);
    if (e < 0) throw new Error(`no edge ${name}`);
    return e;
  });
};

/** Trainable entries of a circuit under a mapping, counted from shapes alone (no weights allocated). */
function trainableCount(config: ModelConfig, edges: string[], mapping: Partial<ParameterMappingConfig>): number {
  const parsed = ParameterMappingConfig.parse(mapping);
  const graph = buildGraph({ ...config, ...(parsed.mlp === 'heads' ? { mlpHeads: config.dMlp / parsed.mlpHeadWidth } : {}) });
  const shapes = new Map(parameterSpecs(config).map((spec) => [spec.name, { shape: [...spec.shape] }]));
  const map = new CircuitParameterMap(config, graph, parsed);
  return sliceParameterCount({ get: (name) => shapes.get(name)! }, map.slicesOf(edgesOf(graph, edges)).slices);
}

describe('circuit → parameter masks', () => {
  it('names the writer and reader nodes of edges', () => {
    expect([...parameterOwners(['input->a0.h1<q>', 'a0.h1->a1.h0<v>', 'm0->logits'])].sort()).toEqual(
      ['a0.h1', 'a0.h1<q>', 'a1.h0<v>', 'input', 'logits', 'm0'].sort(),
    );
  });

  it('owns exactly the head slices, per head (not the whole layer); b_O with the layer heads only when asked', async () => {
    const config = gpt2Config({ nLayers: 2, nHeads: 4, dModel: 16, vocabSize: 10, maxPositions: 8 });
    const model = await TransformerModel.random(config, 1);
    const graph = model.graph();
    const frozenBias = new CircuitParameterMap(config, graph, ParameterMappingConfig.parse({ outputBias: 'frozen' }));
    const { masks, count, nodes } = circuitMasks(model, frozenBias.slicesOf(edgesOf(graph, ['a0.h1->a1.h2<k>'])));
    expect(nodes).toBe(2);
    expect([...masks.keys()].sort()).toEqual(['blocks.0.attn.W_O', 'blocks.1.attn.W_K', 'blocks.1.attn.b_K']);
    const wO = masks.get('blocks.0.attn.W_O')!.arraySync() as number[][];
    // head 1 of 4 with dHead 4: rows 4…7 of W_O [16, 16]
    expect(wO.map((row) => row[0])).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    const wK = masks.get('blocks.1.attn.W_K')!.arraySync() as number[][];
    expect(wK[0]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]);
    expect(count).toBe(4 * 16 + 16 * 4 + 4);
    // Rows or columns, not copies of the parameters: a mask is a vector that broadcasts.
    expect(masks.get('blocks.0.attn.W_O')!.shape).toEqual([16, 1]);
    expect(masks.get('blocks.1.attn.W_K')!.shape).toEqual([1, 16]);
    expect(masks.get('blocks.1.attn.b_K')!.shape).toEqual([16]);
    tf.dispose([...masks.values()].filter((m) => m !== undefined));

    const withBias = new CircuitParameterMap(config, graph, ParameterMappingConfig.parse({}));
    const biased = circuitMasks(model, withBias.slicesOf(edgesOf(graph, ['a0.h1->a1.h2<k>'])));
    // b_O of layer 0 (the writer's layer), whole; not layer 1's, whose head is only a reader here.
    expect(biased.masks.has('blocks.0.attn.b_O')).toBe(true);
    expect(biased.masks.get('blocks.0.attn.b_O')).toBeUndefined();
    expect(biased.masks.has('blocks.1.attn.b_O')).toBe(false);
    expect(biased.count).toBe(count + 16);
    tf.dispose([...biased.masks.values()].filter((m) => m !== undefined));
    model.dispose();
  });

  it('GPT-2 small shape: exact trainable counts per mapping', () => {
    const config = gpt2Config({ nLayers: 12, nHeads: 12, dModel: 768, vocabSize: 50257, maxPositions: 1024 });
    const [d, dHead, dMlp] = [768, 64, 3072];
    // a0.h1 writes, a1.h2<k> reads; m0 only reads (from input), m1 only writes (to the logits);
    // m2 both reads (from a0.h1) and writes (to the logits).
    const edges = ['a0.h1->a1.h2<k>', 'input->m0', 'm1->logits', 'a0.h1->m2', 'm2->logits'];
    const head = dHead * d + (d * dHead + dHead); // a0.h1's W_O rows + a1.h2<k>'s W_K columns and b_K
    const mlpIn = d * dMlp + dMlp; // W_in, b_in
    const mlpOut = dMlp * d + d; // W_out, b_out
    expect(trainableCount(config, edges, { mlp: 'reader-writer', outputBias: 'frozen' })).toBe(head + mlpIn + mlpOut + (mlpIn + mlpOut));
    expect(trainableCount(config, edges, { mlp: 'reader-writer', outputBias: 'heads' })).toBe(head + d + mlpIn + mlpOut + (mlpIn + mlpOut));
    expect(trainableCount(config, edges, { mlp: 'whole', outputBias: 'frozen' })).toBe(head + 3 * (mlpIn + mlpOut));
    expect(trainableCount(config, edges, { mlp: 'whole', outputBias: 'heads' })).toBe(head + d + 3 * (mlpIn + mlpOut));
    // MLP heads of 64 neurons: m0.n0 only reads (W_in columns and b_in entries), m1.n5 only
    // writes (W_out rows, no b_out), m2.n3 both; b_out belongs to no node.
    const w = 64;
    const headEdges = ['a0.h1->a1.h2<k>', 'input->m0.n0', 'm1.n5->logits', 'a0.h1->m2.n3', 'm2.n3->logits'];
    expect(trainableCount(config, headEdges, { mlp: 'heads', outputBias: 'heads' })).toBe(head + d + (d * w + w) + w * d + (d * w + w + w * d));
    expect(trainableCount(config, headEdges, { mlp: 'heads', mlpHeadWidth: 128, outputBias: 'frozen' })).toBe(head + (d * 128 + 128) + 128 * d + (d * 128 + 128 + 128 * d));
  });

  it('Llama (grouped-query attention, gated MLP, no biases): exact trainable counts per mapping', () => {
    const config = llamaConfig({ nLayers: 3, nHeads: 4, nKvHeads: 2, dModel: 32, dMlp: 96, vocabSize: 20, maxPositions: 8 });
    const [d, dHead, dMlp] = [32, 8, 96];
    // a1.h2<k> and a1.h3<k> read through the same k head (group 1): its columns count once.
    const edges = ['a0.h0->a1.h2<k>', 'a0.h0->a1.h3<k>', 'input->m0', 'm1->logits'];
    const attention = dHead * d + d * dHead; // a0.h0's W_O rows, group 1's W_K columns
    const mlpIn = 2 * d * dMlp; // W_in and W_gate
    const mlpOut = dMlp * d; // W_out
    for (const outputBias of ['heads', 'frozen'] as const) {
      expect(trainableCount(config, edges, { mlp: 'reader-writer', outputBias })).toBe(attention + mlpIn + mlpOut);
      expect(trainableCount(config, edges, { mlp: 'whole', outputBias })).toBe(attention + 2 * (mlpIn + mlpOut));
    }
    // MLP heads of 32 neurons (3 per MLP): W_in and W_gate columns as a reader, W_out rows as a writer.
    const headEdges = ['a0.h0->a1.h2<k>', 'a0.h0->a1.h3<k>', 'input->m0.n2', 'm1.n0->logits'];
    expect(trainableCount(config, headEdges, { mlp: 'heads', mlpHeadWidth: 32 })).toBe(attention + 2 * d * 32 + 32 * d);
  });

  it('an edge list of input and logits only owns nothing', () => {
    const config = gpt2Config({ nLayers: 1, nHeads: 2, dModel: 8, vocabSize: 10, maxPositions: 4 });
    const graph = buildGraph(config);
    const map = new CircuitParameterMap(config, graph, ParameterMappingConfig.parse({}));
    expect(map.ownsParameters(edgesOf(graph, ['input->logits']))).toBe(false);
    expect(map.ownsParameters(edgesOf(graph, ['input->logits', 'input->m0']))).toBe(true);
  });
});

describe('MLP-head slices in a training step', () => {
  for (const [label, make] of [
    ['sgd with momentum and weight decay', () => sgd({ momentum: 0.9, weightDecay: 0.1 })],
    ['adam', () => adam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1, decoupled: false })],
    ['adamw', () => adam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1, decoupled: true })],
  ] as const) {
    it(`${label}: slice m0.n1 updates exactly its neurons, every other entry bitwise unchanged`, async () => {
      const config = llamaConfig({ nLayers: 1, nHeads: 2, nKvHeads: 1, dModel: 16, dMlp: 48, vocabSize: 12, maxPositions: 8, mlpHeadWidth: 16 });
      const model = await TransformerModel.random(config, 2);
      const slices = parameterSlicesOf(config, 'm0.n1');
      const { masks } = circuitMasks(model, { slices, nodes: 1 });
      const owned = sliceMasks(model.params, slices);
      const before = new Map(model.params.names().map((name) => [name, model.params.get(name).dataSync().slice()]));
      const optimizer = make();
      const ids = tf.tensor2d([[1, 5, 3, 7, 2], [4, 4, 9, 0, 11]], [2, 5], 'int32');
      const weights = tf.ones([2, 5]) as tf.Tensor2D;
      for (let step = 0; step < 3; step++) {
        const variables = [...masks.keys()].map((name) => model.params.get(name));
        const { grads, value } = tf.variableGrads(() => nextTokenLoss(model.forward(ids).logits, ids, weights), variables);
        optimizer.apply(
          [...masks].map(([name, mask]) => ({ name, variable: model.params.get(name), grad: grads[model.params.get(name).name]!, ...(mask ? { mask } : {}) })),
          0.05,
        );
        tf.dispose([value, ...Object.values(grads)]);
      }
      let changed = 0;
      for (const [name, values] of before) {
        const after = model.params.get(name).dataSync();
        const mask = owned.get(name)?.values;
        for (let i = 0; i < values.length; i++) {
          if (mask?.[i]) changed += after[i] !== values[i] ? 1 : 0;
          else expect(after[i], `${name}[${i}] is outside m0.n1`).toBe(values[i]);
        }
      }
      // Hidden units 16…31: 16 columns of W_in and W_gate [16, 48], 16 rows of W_out [48, 16].
      expect(changed).toBeGreaterThan(0.9 * 3 * 16 * 16);
      optimizer.dispose();
      tf.dispose([ids, weights, ...[...masks.values()].filter((m) => m !== undefined)]);
      model.dispose();
    });
  }
});
