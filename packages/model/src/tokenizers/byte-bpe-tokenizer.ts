/**
 * Byte-level BPE as in GPT-2: text -> added-token split -> GPT-2 regex pre-tokens -> UTF-8 bytes
 * spelled in the byte alphabet -> BPE merges -> ids. Every byte has a token, so any string
 * encodes, and decode inverts encode exactly for any well-formed string (a lone UTF-16 surrogate
 * has no UTF-8 encoding; it becomes U+FFFD, as in every UTF-8 tokenizer).
 */
import { join } from 'node:path';
import { ContractError } from '@circuit-tuning/contracts';
import { BpeModel, type Merge } from './bpe-model';
import { formatMergesTxt, formatVocabJson } from './bpe-files';
import { BYTE_TO_CHAR, pushTokenBytes, toByteLevel } from './byte-level';
import { gpt2PreTokenize } from './gpt2-pretokenize';
import { byteBpeTokenizerJson } from './tokenizer-json-write';
import { AddedTokenSplitter } from './special-tokens';
import type { AddedToken, DecodeOptions, EncodeOptions, SpecialTokenRoles, Tokenizer } from './tokenizer';
import { formatTokenizerConfig } from './tokenizer-config';
import { type Fail, Vocabulary, VocabularyTokenizer } from './vocabulary';
import { writeFileAtomic } from '@circuit-tuning/runtime';

export interface ByteLevelBpeSpec {
  readonly vocab: ReadonlyMap<string, number>;
  /** In rank order (merges.txt order). */
  readonly merges: readonly Merge[];
  readonly addedTokens?: readonly AddedToken[];
  readonly roles?: SpecialTokenRoles;
  /** Hugging Face ByteLevel `add_prefix_space`: a space is put before text that does not start with one. */
  readonly addPrefixSpace?: boolean;
  /** Hugging Face BPE `ignore_merges`: a pre-token found in the vocabulary is taken whole. */
  readonly ignoreMerges?: boolean;
}

export interface SpecContext {
  /** Reports a problem; loaders pass one that throws an ArtifactError naming their file. */
  readonly fail?: Fail;
  /** How to name merge `index` in an error (e.g. "merges.txt line 7"). */
  readonly mergeLabel?: (index: number) => string;
}

// ignoreBOM: a leading U+FEFF in the text is content, not a byte-order mark to strip.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export class ByteLevelBpeTokenizer extends VocabularyTokenizer implements Tokenizer {
  readonly kind = 'byte-bpe' as const;
  readonly merges: readonly Merge[];
  readonly addPrefixSpace: boolean;
  readonly ignoreMerges: boolean;
  private readonly bpe: BpeModel;
  private readonly splitter: AddedTokenSplitter;

  constructor(spec: ByteLevelBpeSpec, context: SpecContext = {}) {
    const fail: Fail =
      context.fail ??
      ((problem, hint) => {
        throw new ContractError(`byte-level BPE tokenizer: ${problem}`, hint === undefined ? undefined : { hint });
      });
    const label = context.mergeLabel ?? ((i: number) => `merge ${i + 1}`);
    validateByteLevel(spec.vocab, spec.merges, fail, label);
    super(new Vocabulary(spec.vocab, spec.addedTokens ?? [], spec.roles ?? {}, fail));
    this.merges = spec.merges;
    this.addPrefixSpace = spec.addPrefixSpace ?? false;
    this.ignoreMerges = spec.ignoreMerges ?? false;
    this.bpe = new BpeModel(spec.merges, this.ignoreMerges ? (w) => spec.vocab.has(w) : undefined);
    this.splitter = new AddedTokenSplitter(this.addedTokens);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = [];
    this.run(text, options, (id) => ids.push(id));
    return ids;
  }

  tokenize(text: string, options: EncodeOptions = {}): string[] {
    const tokens: string[] = [];
    this.run(text, options, (id) => tokens.push(this.vocabulary.idToToken(id)!));
    return tokens;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    let text = '';
    let bytes: number[] = [];
    // Bytes are decoded in runs, so a character split across tokens is whole again; added tokens
    // are literal text, not byte-level spellings, and end a run.
    const flush = () => {
      if (bytes.length > 0) text += decoder.decode(new Uint8Array(bytes));
      bytes = [];
    };
    for (const id of ids) {
      const token = this.vocabulary.idToToken(id);
      if (token === undefined) throw new ContractError(`cannot decode id ${id}: not in the vocabulary (size ${this.vocabSize})`);
      if (this.isAdded(id)) {
        flush();
        if (!(options.skipSpecialTokens && this.vocabulary.isSpecial(id))) text += token;
      } else {
        pushTokenBytes(token, bytes);
      }
    }
    flush();
    return text;
  }

  /** Writes vocab.json + merges.txt (GPT-2's files), tokenizer.json and tokenizer_config.json. */
  async save(dir: string): Promise<void> {
    const vocab = this.vocabulary.modelVocab();
    await writeFileAtomic(join(dir, 'vocab.json'), formatVocabJson(vocab));
    await writeFileAtomic(join(dir, 'merges.txt'), formatMergesTxt(this.merges));
    await writeFileAtomic(
      join(dir, 'tokenizer.json'),
      byteBpeTokenizerJson({
        vocab,
        merges: this.merges,
        addedTokens: this.addedTokens,
        addPrefixSpace: this.addPrefixSpace,
        ignoreMerges: this.ignoreMerges,
      }),
    );
    await writeFileAtomic(join(dir, 'tokenizer_config.json'), formatTokenizerConfig(this.roles, 'GPT2Tokenizer', { add_prefix_space: this.addPrefixSpace }));
  }

  private addedIds: ReadonlySet<number> | undefined;
  private isAdded(id: number): boolean {
    this.addedIds ??= new Set(this.addedTokens.map((t) => t.id));
    return this.addedIds.has(id);
  }

  private run(text: string, options: EncodeOptions, emit: (id: number) => void): void {
    for (const segment of this.splitter.split(text, options.parseSpecialTokens ?? true)) {
      if ('id' in segment) {
        emit(segment.id);
        continue;
      }
      const piece = this.addPrefixSpace && !segment.text.startsWith(' ') ? ` ${segment.text}` : segment.text;
      for (const word of gpt2PreTokenize(piece)) {
        for (const token of this.bpe.apply(toByteLevel(word))) emit(this.vocabulary.tokenToId(token)!);
      }
    }
  }
}

/**
 * Checks that BPE can always produce vocabulary tokens: every byte has a token, and every merge
 * joins two vocabulary tokens into a vocabulary token (the checks Hugging Face tokenizers makes).
 * Then `encode` can never meet a token without an id.
 */
function validateByteLevel(vocab: ReadonlyMap<string, number>, merges: readonly Merge[], fail: Fail, label: (i: number) => string): void {
  const missingBytes = BYTE_TO_CHAR.map((c, b) => [c, b] as const).filter(([c]) => !vocab.has(c));
  if (missingBytes.length > 0) {
    const shown = missingBytes.slice(0, 5).map(([c, b]) => `${JSON.stringify(c)} (byte 0x${b.toString(16).padStart(2, '0')})`);
    fail(
      `the vocabulary lacks ${missingBytes.length} of the 256 byte-level symbols, e.g. ${shown.join(', ')}`,
      'a byte-level BPE vocabulary must contain every symbol of the GPT-2 byte alphabet, or some text could not be encoded.',
    );
  }
  merges.forEach(([a, b], i) => {
    for (const part of [a, b]) {
      if (!vocab.has(part)) fail(`${label(i)}: merge part ${JSON.stringify(part)} is not in the vocabulary`);
    }
    if (!vocab.has(a + b)) fail(`${label(i)}: merge result ${JSON.stringify(a + b)} is not in the vocabulary`);
  });
}
