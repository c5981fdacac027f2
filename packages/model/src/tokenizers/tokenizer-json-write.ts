/**
 * Hugging Face `tokenizer.json` files for both tokenizer kinds, in the shape `tokenizers` itself
 * saves (GPT-2's for byte-level BPE), so `Tokenizer.from_file` and `AutoTokenizer` load them.
 */
import type { Merge } from './bpe-model';
import type { AddedToken } from './tokenizer';

/** Stands in for the vocabulary until it is written by hand; NUL never occurs in a byte-level token. */
const VOCAB_PLACEHOLDER = '\u0000vocab\u0000';

function addedTokensJson(tokens: readonly AddedToken[]): Record<string, unknown>[] {
  return tokens.map((t) => ({
    id: t.id,
    content: t.content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: !t.special,
    special: t.special,
  }));
}

/** The parts in which the two kinds' files differ; the rest of the document is the same. */
interface TokenizerJsonParts {
  vocab: readonly (readonly [string, number])[];
  addedTokens: readonly AddedToken[];
  preTokenizer: unknown;
  postProcessor: unknown;
  decoder: unknown;
  /** The model section, with VOCAB_PLACEHOLDER where the vocabulary goes. */
  model: Record<string, unknown>;
}

/**
 * Serializes with the vocabulary in id order: JSON.stringify would put integer-like keys ("0", "1")
 * first, so the vocabulary object is written by hand where the placeholder stands in `model`
 * (searched from the `"model":` key, which cannot occur inside an escaped string).
 */
function serialize(parts: TokenizerJsonParts): string {
  const { vocab } = parts;
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokensJson(parts.addedTokens),
    normalizer: null,
    pre_tokenizer: parts.preTokenizer,
    post_processor: parts.postProcessor,
    decoder: parts.decoder,
    model: parts.model,
  };
  const text = JSON.stringify(json, null, 2);
  const quoted = JSON.stringify(VOCAB_PLACEHOLDER);
  const at = text.indexOf(quoted, text.indexOf('"model":'));
  const vocabText = `{\n${vocab.map(([token, id]) => `      ${JSON.stringify(token)}: ${id}`).join(',\n')}\n    }`;
  return `${text.slice(0, at)}${vocabText}${text.slice(at + quoted.length)}\n`;
}

export function byteBpeTokenizerJson(options: {
  vocab: readonly (readonly [string, number])[];
  merges: readonly Merge[];
  addedTokens: readonly AddedToken[];
  addPrefixSpace: boolean;
  ignoreMerges: boolean;
}): string {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: options.addPrefixSpace, trim_offsets: true, use_regex: true };
  const model: Record<string, unknown> = {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: '',
    end_of_word_suffix: '',
    fuse_unk: false,
    byte_fallback: false,
  };
  // Only when set: older `tokenizers` releases do not know the key.
  if (options.ignoreMerges) model['ignore_merges'] = true;
  model['vocab'] = VOCAB_PLACEHOLDER;
  model['merges'] = options.merges.map(([a, b]) => `${a} ${b}`);
  return serialize({
    vocab: options.vocab,
    addedTokens: options.addedTokens,
    preTokenizer: byteLevel,
    postProcessor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model,
  });
}

export function wordLevelTokenizerJson(options: {
  vocab: readonly (readonly [string, number])[];
  addedTokens: readonly AddedToken[];
  unkToken: string | undefined;
  preTokenizer: Record<string, unknown> | null;
}): string {
  return serialize({
    vocab: options.vocab,
    addedTokens: options.addedTokens,
    preTokenizer: options.preTokenizer,
    postProcessor: null,
    // Joins with spaces and removes the space before . , ! ? (close to, not exactly, our decode).
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    // tokenizers requires unk_token; it only matters if a word is unknown, which cannot happen without one.
    model: { type: 'WordLevel', vocab: VOCAB_PLACEHOLDER, unk_token: options.unkToken ?? '<unk>' },
  });
}
