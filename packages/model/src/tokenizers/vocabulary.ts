/**
 * The token <-> id tables shared by both tokenizer kinds: the model's vocabulary plus added tokens,
 * with the role (bos/eos/pad/unk) ids resolved once. Construction validates what a file could get
 * wrong (two tokens on one id, an added token disagreeing with the vocabulary, a role naming a
 * token that does not exist) and reports it through `fail`, so the error can name the right file.
 */
import type { AddedToken, SpecialTokenRoles } from './tokenizer';

export type Fail = (problem: string, hint?: string) => never;

export class Vocabulary {
  readonly size: number;
  readonly addedTokens: readonly AddedToken[];
  readonly roles: SpecialTokenRoles;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly pad: number | undefined;
  readonly unk: number | undefined;
  private readonly model: ReadonlyMap<string, number>;
  private readonly byToken: ReadonlyMap<string, number>;
  private readonly byId: ReadonlyMap<number, string>;
  private readonly specialIds: ReadonlySet<number>;

  constructor(vocab: ReadonlyMap<string, number>, added: readonly AddedToken[], roles: SpecialTokenRoles, fail: Fail) {
    const byToken = new Map(vocab);
    const byId = new Map<number, string>();
    for (const [token, id] of vocab) {
      const other = byId.get(id);
      if (other !== undefined) fail(`tokens ${JSON.stringify(other)} and ${JSON.stringify(token)} both have id ${id}`);
      byId.set(id, token);
    }
    const addedById = new Map<number, AddedToken>();
    for (const token of added) {
      const inVocab = byToken.get(token.content);
      if (inVocab !== undefined && inVocab !== token.id) {
        fail(`added token ${JSON.stringify(token.content)} has id ${token.id} but the vocabulary gives it ${inVocab}`);
      }
      const holder = byId.get(token.id);
      if (holder !== undefined && holder !== token.content) {
        fail(`added token ${JSON.stringify(token.content)} has id ${token.id}, which the vocabulary gives to ${JSON.stringify(holder)}`);
      }
      byToken.set(token.content, token.id);
      byId.set(token.id, token.content);
      addedById.set(token.id, token);
    }

    const roleId = (role: keyof SpecialTokenRoles): number | undefined => {
      const name = roles[role];
      if (name === undefined) return undefined;
      const id = byToken.get(name);
      if (id === undefined) fail(`the ${role} token ${JSON.stringify(name)} is not in the vocabulary`);
      // A role token must be matched verbatim in text, so it is an added special token even when
      // only vocab.json lists it (GPT-2's `<|endoftext|>`).
      if (!addedById.has(id)) addedById.set(id, { id, content: name, special: true });
      return id;
    };
    this.bos = roleId('bos');
    this.eos = roleId('eos');
    this.pad = roleId('pad');
    this.unk = roleId('unk');
    this.roles = { ...roles };

    this.model = vocab;
    this.byToken = byToken;
    this.byId = byId;
    this.addedTokens = [...addedById.values()].sort((a, b) => a.id - b.id);
    this.specialIds = new Set(this.addedTokens.filter((t) => t.special).map((t) => t.id));
    let max = -1;
    for (const id of byId.keys()) if (id > max) max = id;
    this.size = max + 1;
  }

  tokenToId(token: string): number | undefined {
    return this.byToken.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.byId.get(id);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** The model's own vocabulary (what vocab.json and tokenizer.json's `model.vocab` hold), by id. */
  modelVocab(): [string, number][] {
    return [...this.model].sort((a, b) => a[1] - b[1]);
  }
}

/**
 * What both tokenizer kinds take from their vocabulary: size, role ids, roles, added tokens and
 * the token <-> id lookups. Each kind adds how text becomes tokens (./byte-bpe-tokenizer.ts,
 * ./word-level-tokenizer.ts).
 */
export abstract class VocabularyTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
  readonly unkTokenId: number | undefined;
  readonly roles: SpecialTokenRoles;
  readonly addedTokens: readonly AddedToken[];

  protected constructor(protected readonly vocabulary: Vocabulary) {
    this.vocabSize = vocabulary.size;
    this.bosTokenId = vocabulary.bos;
    this.eosTokenId = vocabulary.eos;
    this.padTokenId = vocabulary.pad;
    this.unkTokenId = vocabulary.unk;
    this.roles = vocabulary.roles;
    this.addedTokens = vocabulary.addedTokens;
  }

  tokenToId(token: string): number | undefined {
    return this.vocabulary.tokenToId(token);
  }

  idToToken(id: number): string | undefined {
    return this.vocabulary.idToToken(id);
  }
}
