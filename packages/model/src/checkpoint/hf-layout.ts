import { hasAttentionOutputBias, type ModelConfig } from '../config/model-config';
import { blockPrefix } from '../transformer/parameter-names';

/**
 * Where each canonical parameter lives in a Hugging Face checkpoint, and how to turn one into the
 * other. GPT-2 uses Conv1D (x·W, [in, out]: our orientation) with q, k and v fused in c_attn;
 * Llama uses torch Linear ([out, in]: transposed) with separate projections.
 */
export type HfTransform =
  | { kind: 'copy' }
  | { kind: 'transpose' }
  /** Part `part` of `parts` equal column blocks (GPT-2's fused c_attn: q, k, v). */
  | { kind: 'columns'; part: number; parts: number };

export interface HfMapping {
  canonical: string;
  hfName: string;
  transform: HfTransform;
  /** Shape of the tensor in the file (before the transform). */
  hfShape: number[];
}

export function hfMappings(config: ModelConfig): HfMapping[] {
  return config.architecture === 'gpt2' ? gpt2Mappings(config) : llamaMappings(config);
}

function gpt2Mappings(config: ModelConfig): HfMapping[] {
  const { dModel: d, dMlp: f, vocabSize: v, maxPositions } = config;
  const copy: HfTransform = { kind: 'copy' };
  const m: HfMapping[] = [
    { canonical: 'embed.W_E', hfName: 'wte.weight', transform: copy, hfShape: [v, d] },
    { canonical: 'pos_embed.W_pos', hfName: 'wpe.weight', transform: copy, hfShape: [maxPositions, d] },
  ];
  for (let layer = 0; layer < config.nLayers; layer++) {
    const ours = blockPrefix(layer);
    const hf = `h.${layer}`;
    m.push(
      { canonical: `${ours}.ln1.w`, hfName: `${hf}.ln_1.weight`, transform: copy, hfShape: [d] },
      { canonical: `${ours}.ln1.b`, hfName: `${hf}.ln_1.bias`, transform: copy, hfShape: [d] },
    );
    (['Q', 'K', 'V'] as const).forEach((letter, part) => {
      m.push(
        { canonical: `${ours}.attn.W_${letter}`, hfName: `${hf}.attn.c_attn.weight`, transform: { kind: 'columns', part, parts: 3 }, hfShape: [d, 3 * d] },
        { canonical: `${ours}.attn.b_${letter}`, hfName: `${hf}.attn.c_attn.bias`, transform: { kind: 'columns', part, parts: 3 }, hfShape: [3 * d] },
      );
    });
    m.push(
      { canonical: `${ours}.attn.W_O`, hfName: `${hf}.attn.c_proj.weight`, transform: copy, hfShape: [d, d] },
      { canonical: `${ours}.attn.b_O`, hfName: `${hf}.attn.c_proj.bias`, transform: copy, hfShape: [d] },
      { canonical: `${ours}.ln2.w`, hfName: `${hf}.ln_2.weight`, transform: copy, hfShape: [d] },
      { canonical: `${ours}.ln2.b`, hfName: `${hf}.ln_2.bias`, transform: copy, hfShape: [d] },
      { canonical: `${ours}.mlp.W_in`, hfName: `${hf}.mlp.c_fc.weight`, transform: copy, hfShape: [d, f] },
      { canonical: `${ours}.mlp.b_in`, hfName: `${hf}.mlp.c_fc.bias`, transform: copy, hfShape: [f] },
      { canonical: `${ours}.mlp.W_out`, hfName: `${hf}.mlp.c_proj.weight`, transform: copy, hfShape: [f, d] },
      { canonical: `${ours}.mlp.b_out`, hfName: `${hf}.mlp.c_proj.bias`, transform: copy, hfShape: [d] },
    );
  }
  m.push(
    { canonical: 'ln_final.w', hfName: 'ln_f.weight', transform: copy, hfShape: [d] },
    { canonical: 'ln_final.b', hfName: 'ln_f.bias', transform: copy, hfShape: [d] },
  );
  if (!config.tieWordEmbeddings) m.push({ canonical: 'unembed.W_U', hfName: 'lm_head.weight', transform: copy, hfShape: [v, d] });
  return m;
}

function llamaMappings(config: ModelConfig): HfMapping[] {
  const { dModel: d, dMlp: f, vocabSize: v, nHeads, nKvHeads, dHead } = config;
  const copy: HfTransform = { kind: 'copy' };
  const transpose: HfTransform = { kind: 'transpose' };
  const m: HfMapping[] = [{ canonical: 'embed.W_E', hfName: 'model.embed_tokens.weight', transform: copy, hfShape: [v, d] }];
  for (let layer = 0; layer < config.nLayers; layer++) {
    const ours = blockPrefix(layer);
    const hf = `model.layers.${layer}`;
    m.push({ canonical: `${ours}.ln1.w`, hfName: `${hf}.input_layernorm.weight`, transform: copy, hfShape: [d] });
    for (const [letter, heads] of [['Q', nHeads], ['K', nKvHeads], ['V', nKvHeads]] as const) {
      const proj = `${hf}.self_attn.${letter.toLowerCase()}_proj`;
      m.push({ canonical: `${ours}.attn.W_${letter}`, hfName: `${proj}.weight`, transform: transpose, hfShape: [heads * dHead, d] });
      if (config.attentionBias) m.push({ canonical: `${ours}.attn.b_${letter}`, hfName: `${proj}.bias`, transform: copy, hfShape: [heads * dHead] });
    }
    m.push({ canonical: `${ours}.attn.W_O`, hfName: `${hf}.self_attn.o_proj.weight`, transform: transpose, hfShape: [d, nHeads * dHead] });
    if (hasAttentionOutputBias(config)) m.push({ canonical: `${ours}.attn.b_O`, hfName: `${hf}.self_attn.o_proj.bias`, transform: copy, hfShape: [d] });
    m.push(
      { canonical: `${ours}.ln2.w`, hfName: `${hf}.post_attention_layernorm.weight`, transform: copy, hfShape: [d] },
      { canonical: `${ours}.mlp.W_gate`, hfName: `${hf}.mlp.gate_proj.weight`, transform: transpose, hfShape: [f, d] },
      { canonical: `${ours}.mlp.W_in`, hfName: `${hf}.mlp.up_proj.weight`, transform: transpose, hfShape: [f, d] },
      { canonical: `${ours}.mlp.W_out`, hfName: `${hf}.mlp.down_proj.weight`, transform: transpose, hfShape: [d, f] },
    );
    if (config.mlpBias) {
      m.push(
        { canonical: `${ours}.mlp.b_in`, hfName: `${hf}.mlp.up_proj.bias`, transform: copy, hfShape: [f] },
        { canonical: `${ours}.mlp.b_out`, hfName: `${hf}.mlp.down_proj.bias`, transform: copy, hfShape: [d] },
      );
    }
  }
  m.push({ canonical: 'ln_final.w', hfName: 'model.norm.weight', transform: copy, hfShape: [d] });
  if (!config.tieWordEmbeddings) m.push({ canonical: 'unembed.W_U', hfName: 'lm_head.weight', transform: copy, hfShape: [v, d] });
  return m;
}

/** Key prefixes that wrap the bare model in some checkpoints (GPT2LMHeadModel saves `transformer.`). */
export const knownPrefixes = ['transformer.', ''];
