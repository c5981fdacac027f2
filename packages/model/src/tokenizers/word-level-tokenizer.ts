/**
 * Word-level tokenization for small generated languages: one id per word, `<unk>` for words outside
 * the vocabulary. Saved as a Hugging Face tokenizer.json with a `WordLevel` model (plus vocab.json
 * and tokenizer_config.json), so Python `tokenizers` / `transformers` load the same tokenizer.
 *
 * Decoding joins tokens with single spaces, except that no space goes before `. , ; : ! ? ) ] }` or
 * after `( [ {`. So decode(encode(text)) === text for text written that way with known words.
 */
import { join } from 'node:path';
import { ContractError } from '@circuit-tuning/contracts';
import { formatVocabJson } from './bpe-files';
import { AddedTokenSplitter } from './special-tokens';
import type { AddedToken, DecodeOptions, EncodeOptions, SpecialTokenRoles, Tokenizer } from './tokenizer';
import { formatTokenizerConfig } from './tokenizer-config';
import { wordLevelTokenizerJson } from './tokenizer-json-write';
import { type Fail, Vocabulary, VocabularyTokenizer } from './vocabulary';
import { DEFAULT_WORD_SPLITTER, type WordSplitter } from './word-split';
import { writeFileAtomic } from '@circuit-tuning/runtime';

const NO_SPACE_BEFORE: ReadonlySet<string> = new Set(['.', ',', ';', ':', '!', '?', ')', ']', '}']);
const NO_SPACE_AFTER: ReadonlySet<string> = new Set(['(', '[', '{']);

export interface WordLevelSpec {
  readonly vocab: ReadonlyMap<string, number>;
  readonly addedTokens?: readonly AddedToken[];
  readonly roles?: SpecialTokenRoles;
  /** Default: the rule in word-split.ts. */
  readonly splitter?: WordSplitter;
}

export interface WordLevelOptions {
  /** The language's words, in id order after the special tokens; each must be one pre-token. */
  readonly words: readonly string[];
  /**
   * Role tokens, given ids 0.. before the words in the order pad, unk, bos, eos (a token shared by
   * two roles gets one id). null leaves a role out. Defaults: pad `<pad>`, unk `<unk>`, and bos and
   * eos both `<|endoftext|>` (GPT-2's convention).
   */
  readonly specialTokens?: { readonly [K in keyof SpecialTokenRoles]?: string | null };
}

export class WordLevelTokenizer extends VocabularyTokenizer implements Tokenizer {
  readonly kind = 'word-level' as const;
  readonly splitter: WordSplitter;
  private readonly addedSplitter: AddedTokenSplitter;

  constructor(spec: WordLevelSpec, fail: Fail = contractFail) {
    super(new Vocabulary(spec.vocab, spec.addedTokens ?? [], spec.roles ?? {}, fail));
    this.splitter = spec.splitter ?? DEFAULT_WORD_SPLITTER;
    this.addedSplitter = new AddedTokenSplitter(this.addedTokens);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = [];
    for (const segment of this.addedSplitter.split(text, options.parseSpecialTokens ?? true)) {
      if ('id' in segment) {
        ids.push(segment.id);
        continue;
      }
      for (const word of this.splitter.split(segment.text)) {
        const id = this.vocabulary.tokenToId(word) ?? this.unkTokenId;
        if (id === undefined) {
          throw new ContractError(`word ${JSON.stringify(word)} is not in the vocabulary, and the tokenizer has no unk token`);
        }
        ids.push(id);
      }
    }
    return ids;
  }

  tokenize(text: string, options: EncodeOptions = {}): string[] {
    return this.encode(text, options).map((id) => this.vocabulary.idToToken(id)!);
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    let text = '';
    let previous: string | undefined;
    for (const id of ids) {
      const token = this.vocabulary.idToToken(id);
      if (token === undefined) throw new ContractError(`cannot decode id ${id}: not in the vocabulary (size ${this.vocabSize})`);
      if (options.skipSpecialTokens && this.vocabulary.isSpecial(id)) continue;
      if (previous !== undefined && !NO_SPACE_BEFORE.has(token) && !NO_SPACE_AFTER.has(previous)) text += ' ';
      text += token;
      previous = token;
    }
    return text;
  }

  /** Writes tokenizer.json (WordLevel), vocab.json and tokenizer_config.json. */
  async save(dir: string): Promise<void> {
    const vocab = this.vocabulary.modelVocab();
    await writeFileAtomic(
      join(dir, 'tokenizer.json'),
      wordLevelTokenizerJson({ vocab, addedTokens: this.addedTokens, unkToken: this.roles.unk, preTokenizer: this.splitter.config }),
    );
    await writeFileAtomic(join(dir, 'vocab.json'), formatVocabJson(vocab));
    await writeFileAtomic(join(dir, 'tokenizer_config.json'), formatTokenizerConfig(this.roles, 'PreTrainedTokenizerFast'));
  }
}

/** A word-level tokenizer for a generated language: special tokens first, then `words` in order. */
export function createWordLevelTokenizer(options: WordLevelOptions): WordLevelTokenizer {
  const given = options.specialTokens ?? {};
  const pick = (role: keyof SpecialTokenRoles, fallback: string): string | undefined => {
    const value = given[role];
    return value === null ? undefined : (value ?? fallback);
  };
  const roles: { -readonly [K in keyof SpecialTokenRoles]: string } = {};
  const pad = pick('pad', '<pad>');
  const unk = pick('unk', '<unk>');
  const bos = pick('bos', '<|endoftext|>');
  const eos = pick('eos', '<|endoftext|>');
  if (pad !== undefined) roles.pad = pad;
  if (unk !== undefined) roles.unk = unk;
  if (bos !== undefined) roles.bos = bos;
  if (eos !== undefined) roles.eos = eos;

  const vocab = new Map<string, number>();
  const added: AddedToken[] = [];
  for (const token of [pad, unk, bos, eos]) {
    if (token === undefined || vocab.has(token)) continue;
    added.push({ id: vocab.size, content: token, special: true });
    vocab.set(token, vocab.size);
  }
  for (const word of options.words) {
    if (vocab.has(word)) {
      throw new ContractError(`word ${JSON.stringify(word)} is listed twice (or is also a special token)`);
    }
    const pieces = DEFAULT_WORD_SPLITTER.split(word);
    if (pieces.length !== 1 || pieces[0] !== word) {
      throw new ContractError(
        `word ${JSON.stringify(word)} would be split into ${JSON.stringify(pieces)} and so could never be produced`,
        { hint: 'words are runs of letters, digits, underscores and apostrophes, or a single other non-space character.' },
      );
    }
    vocab.set(word, vocab.size);
  }
  return new WordLevelTokenizer({ vocab, addedTokens: added, roles });
}

function contractFail(problem: string, hint?: string): never {
  throw new ContractError(`word-level tokenizer: ${problem}`, hint === undefined ? undefined : { hint });
}
