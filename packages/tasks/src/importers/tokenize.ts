/**
 * Tokenizing imported text for prompts: the words before a target, and the target as the single
 * token that follows them. Works for any tokenizer: for GPT-2's byte-level BPE the target token
 * carries its leading space (` him`), for a word-level tokenizer it is the bare word.
 */
import { ConfigError } from '@circuit-tuning/contracts';
import type { Tokenizer } from '@circuit-tuning/model';

/** Imported text is data: `<|endoftext|>` written in it is text, not the special token. */
export const ENCODE_DATA = { parseSpecialTokens: false } as const;

export function bosOf(tokenizer: Tokenizer): number {
  const bos = tokenizer.bosTokenId;
  if (bos === undefined) {
    throw new ConfigError('the tokenizer has no BOS token, but every prompt starts with one', {
      hint: "give a tokenizer whose tokenizer_config.json names a bos_token (GPT-2's is <|endoftext|>)",
    });
  }
  return bos;
}

export interface Continuation {
  /** Tokens of the text before the target (no BOS). */
  readonly prefixIds: number[];
  /** The prefix text without trailing whitespace. */
  readonly prefixText: string;
  /** The target word's token after the prefix, per candidate word. */
  readonly tokens: number[];
}

/** Why a word cannot be a target token (a reject reason and its message). */
export interface TokenProblem {
  readonly reason: 'not-single-token' | 'unknown-token';
  readonly problem: string;
}

/**
 * Tokens of `text.slice(0, offset)` and of each of `words` written at `offset` (with the
 * whitespace that stood before it). A problem when a word is not exactly one known token there.
 */
export function continuation(tokenizer: Tokenizer, text: string, offset: number, words: readonly string[]): Continuation | TokenProblem {
  const before = text.slice(0, offset);
  const prefixText = before.trimEnd();
  const separator = before.slice(prefixText.length);
  const prefixIds = tokenizer.encode(prefixText, ENCODE_DATA);
  const tokens: number[] = [];
  for (const word of words) {
    const ids = tokenizer.encode(prefixText + separator + word, ENCODE_DATA);
    const samePrefix = ids.length === prefixIds.length + 1 && prefixIds.every((id, i) => ids[i] === id);
    if (!samePrefix) return { reason: 'not-single-token', problem: `'${word}' after ${JSON.stringify(shorten(prefixText))} is not a single token for this tokenizer` };
    const token = ids[ids.length - 1]!;
    if (token === tokenizer.unkTokenId) return { reason: 'unknown-token', problem: `'${word}' is not in the tokenizer's vocabulary (it encodes to the unknown token)` };
    tokens.push(token);
  }
  return { prefixIds, prefixText, tokens };
}

const WORD_CHAR = /[\p{L}\p{N}_]/u;

/**
 * Character offsets of `words` in `text`, in order, each as a whole word (not inside a longer word)
 * found after the previous one; the index of the first word not found otherwise.
 */
export function locateWords(text: string, words: readonly string[]): number[] | { missing: number } {
  const offsets: number[] = [];
  let from = 0;
  for (let k = 0; k < words.length; k++) {
    const word = words[k]!.trim();
    let at = word === '' ? -1 : text.indexOf(word, from);
    while (at >= 0 && !isWholeWord(text, at, word)) at = text.indexOf(word, at + 1);
    if (at < 0) return { missing: k };
    offsets.push(at);
    from = at + word.length;
  }
  return offsets;
}

function isWholeWord(text: string, at: number, word: string): boolean {
  const before = at > 0 ? text[at - 1]! : '';
  const after = text[at + word.length] ?? '';
  // A word that starts with an apostrophe (`'re`) attaches to the word before it.
  const startOk = word.startsWith("'") || before === '' || !WORD_CHAR.test(before);
  return startOk && (after === '' || !WORD_CHAR.test(after));
}

export function shorten(text: string): string {
  return text.length > 40 ? `...${text.slice(-37)}` : text;
}
