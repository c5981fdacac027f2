import { buildGraph, ContractError, type GraphOptions, type ModelGraph } from '@circuit-tuning/contracts';
import { ensureBackend, type tf } from '@circuit-tuning/runtime';
import type { ModelConfig } from '../config/model-config';
import type { Tokenizer } from '../tokenizers/index';
import { type ForwardOptions, type ForwardResult, type ParameterSource, transformerForward } from './forward';
import { initialParameters, ModelParameters } from './parameters';

/**
 * A transformer language model read as a graph of nodes (docs/method.md §1), behind one interface for
 * GPT-2 and the Llama family. Discovery and training code never ask which architecture it is.
 */
export class TransformerModel {
  readonly config: ModelConfig;
  readonly params: ModelParameters;
  readonly tokenizer: Tokenizer | undefined;
  /** Where it was loaded from, when it was. */
  readonly source: string | undefined;
  private readonly graphs = new Map<string, ModelGraph>();

  constructor(config: ModelConfig, values: Map<string, tf.Tensor>, options: { tokenizer?: Tokenizer; source?: string } = {}) {
    this.config = config;
    this.params = new ModelParameters(config, values);
    this.tokenizer = options.tokenizer;
    this.source = options.source;
  }

  /** A model with GPT-2's initialisation, seeded (same seed → same weights on every backend). */
  static async random(config: ModelConfig, seed: number, tokenizer?: Tokenizer): Promise<TransformerModel> {
    await ensureBackend();
    const values = initialParameters(config, seed);
    try {
      return new TransformerModel(config, values, tokenizer ? { tokenizer } : {});
    } finally {
      for (const t of values.values()) t.dispose();
    }
  }

  /**
   * The node/edge graph (cached). The full graph with input and logits is the default;
   * `mlpHeadWidth` splits every MLP into MLP heads of that many neurons (docs/method.md §1);
   * `kvReaders: 'groups'` gives one k and one v reader per kv group instead of per query head.
   */
  graph(options: GraphOptions & { mlpHeadWidth?: number | undefined; kvReaders?: 'heads' | 'groups' | undefined } = {}): ModelGraph {
    const full = options.includeInputAndLogits ?? true;
    const width = options.mlpHeadWidth;
    const groups = options.kvReaders === 'groups';
    if (width !== undefined && (!Number.isInteger(width) || width < 1 || this.config.dMlp % width !== 0)) {
      throw new ContractError(`MLP heads of ${width} neurons do not divide the model's ${this.config.dMlp} MLP neurons`, {
        hint: `choose an mlpHeadWidth that divides ${this.config.dMlp}`,
      });
    }
    const key = `${full}/${width ?? ''}/${groups}`;
    let graph = this.graphs.get(key);
    if (!graph) {
      const shape = {
        nLayers: this.config.nLayers,
        nHeads: this.config.nHeads,
        ...(width === undefined ? {} : { mlpHeads: this.config.dMlp / width }),
        ...(groups ? { kvGroups: this.config.nKvHeads } : {}),
      };
      graph = buildGraph(shape, { includeInputAndLogits: full });
      this.graphs.set(key, graph);
    }
    return graph;
  }

  /**
   * The forward pass: plain by default; decomposed (captureWriters), probed (probes) or restricted
   * to a circuit (circuit). ids: int32 [batch, seq]. The caller owns the returned tensors.
   */
  forward(ids: tf.Tensor2D, options: ForwardOptions = {}, weights: ParameterSource = this.params): ForwardResult {
    return transformerForward(this.config, weights, ids, options);
  }

  /** Logits [batch, seq, vocab] of a plain forward pass; the caller disposes them. */
  logits(ids: tf.Tensor2D): tf.Tensor3D {
    return this.forward(ids).logits;
  }

  /** Encodes text with the model's tokenizer (with a BOS token first when it has one and `bos` is set). */
  encode(text: string, options: { bos?: boolean } = {}): number[] {
    if (!this.tokenizer) throw new Error('this model was loaded without a tokenizer');
    const ids = this.tokenizer.encode(text);
    const bos = this.tokenizer.bosTokenId ?? this.config.bosTokenId;
    return options.bos && bos !== undefined ? [bos, ...ids] : ids;
  }

  dispose(): void {
    this.params.dispose();
  }
}
