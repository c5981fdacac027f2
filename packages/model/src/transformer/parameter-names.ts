import { hasAttentionOutputBias, type ModelConfig } from '../config/model-config';

/**
 * Canonical parameter names, TransformerLens-like, one layout for every architecture. Matrices
 * are stored in x·W orientation ([in, out]) so a forward pass is a plain matMul (the fast path on
 * wasm). Heads are contiguous column blocks of W_Q/W_K/W_V and row blocks of W_O, which is what
 * makes a head's parameters addressable as exact slices. Hugging Face names appear only at the
 * file boundary (checkpoint/).
 */
export interface ParameterSpec {
  name: string;
  shape: number[];
  /** What the tensor is, for the parameter table and for initialisation. */
  role: 'embedding' | 'norm-weight' | 'norm-bias' | 'matrix' | 'bias';
}

export const blockPrefix = (layer: number): string => `blocks.${layer}`;

export function parameterSpecs(config: ModelConfig): ParameterSpec[] {
  const { dModel: d, dHead, nHeads, nKvHeads, dMlp, vocabSize } = config;
  const specs: ParameterSpec[] = [{ name: 'embed.W_E', shape: [vocabSize, d], role: 'embedding' }];
  if (config.positions === 'learned') specs.push({ name: 'pos_embed.W_pos', shape: [config.maxPositions, d], role: 'embedding' });
  const norm = (name: string) => {
    specs.push({ name: `${name}.w`, shape: [d], role: 'norm-weight' });
    if (config.norm === 'layernorm') specs.push({ name: `${name}.b`, shape: [d], role: 'norm-bias' });
  };
  for (let layer = 0; layer < config.nLayers; layer++) {
    const p = blockPrefix(layer);
    norm(`${p}.ln1`);
    specs.push({ name: `${p}.attn.W_Q`, shape: [d, nHeads * dHead], role: 'matrix' });
    specs.push({ name: `${p}.attn.W_K`, shape: [d, nKvHeads * dHead], role: 'matrix' });
    specs.push({ name: `${p}.attn.W_V`, shape: [d, nKvHeads * dHead], role: 'matrix' });
    if (config.attentionBias) {
      specs.push({ name: `${p}.attn.b_Q`, shape: [nHeads * dHead], role: 'bias' });
      specs.push({ name: `${p}.attn.b_K`, shape: [nKvHeads * dHead], role: 'bias' });
      specs.push({ name: `${p}.attn.b_V`, shape: [nKvHeads * dHead], role: 'bias' });
    }
    specs.push({ name: `${p}.attn.W_O`, shape: [nHeads * dHead, d], role: 'matrix' });
    if (hasAttentionOutputBias(config)) specs.push({ name: `${p}.attn.b_O`, shape: [d], role: 'bias' });
    norm(`${p}.ln2`);
    specs.push({ name: `${p}.mlp.W_in`, shape: [d, dMlp], role: 'matrix' });
    if (config.gatedMlp) specs.push({ name: `${p}.mlp.W_gate`, shape: [d, dMlp], role: 'matrix' });
    if (config.mlpBias) specs.push({ name: `${p}.mlp.b_in`, shape: [dMlp], role: 'bias' });
    specs.push({ name: `${p}.mlp.W_out`, shape: [dMlp, d], role: 'matrix' });
    if (config.mlpBias) specs.push({ name: `${p}.mlp.b_out`, shape: [d], role: 'bias' });
  }
  norm('ln_final');
  // The unembedding is stored as [vocab, dModel] (Hugging Face's lm_head orientation), so that a
  // tied model simply shares embed.W_E.
  if (!config.tieWordEmbeddings) specs.push({ name: 'unembed.W_U', shape: [vocabSize, d], role: 'embedding' });
  return specs;
}

export const unembedName = (config: ModelConfig): string => (config.tieWordEmbeddings ? 'embed.W_E' : 'unembed.W_U');
