/**
 * What the generator produces: a document (one or a few sentences) as a word list, with
 * annotations that say where its phenomena are. Word indices count words of the document; in the
 * token ids, which start with BOS, the same word sits one position later.
 */
import type { GrammaticalNumber } from './lexicon';
import type { Gender, PronounRole } from './people';

export type DocumentKind = 'agreement' | 'ioi' | 'pronoun' | 'narrative';
export const DOCUMENT_KINDS: readonly DocumentKind[] = ['agreement', 'ioi', 'pronoun', 'narrative'];

export type AgreementCondition = 'simple' | 'attractor' | 'relative-clause';
export const AGREEMENT_CONDITIONS: readonly AgreementCondition[] = ['simple', 'attractor', 'relative-clause'];

/** A present-tense verb: the word at `index` is the `number` form; flipping writes the other form. */
export interface PresentVerb {
  readonly index: number;
  readonly sg: string;
  readonly pl: string;
  readonly number: GrammaticalNumber;
  /** Index of the word it agrees with (the head noun, name or pronoun of its subject). */
  readonly subject: number;
}

interface DocumentBase {
  readonly words: readonly string[];
  /** Every present-tense verb, in order. */
  readonly presentVerbs: readonly PresentVerb[];
  /** Held-out keys the document contains (see held-out.ts); the corpus rejects documents with a held-out one. */
  readonly keys: readonly string[];
}

export interface AgreementDocument extends DocumentBase {
  readonly kind: 'agreement';
  readonly condition: AgreementCondition;
  readonly subject: {
    /** Index of `the` that opens the subject. */
    readonly start: number;
    /** Index of the head noun. */
    readonly head: number;
    readonly number: GrammaticalNumber;
    readonly sg: string;
    readonly pl: string;
    /** The held-out key of the subject phrase (`np:the old key`), or undefined for a bare `the key`. */
    readonly key: string | undefined;
  };
  /** Index of the main verb, which agrees with the subject head. */
  readonly mainVerb: number;
  /** For attractors and relative clauses: the other noun inside the subject phrase, and its number. */
  readonly attractor: { readonly index: number; readonly number: GrammaticalNumber } | undefined;
}

export type IoiOrder = 'ABBA' | 'BABA';

export interface IoiDocument extends DocumentBase {
  readonly kind: 'ioi';
  readonly template: number;
  readonly order: IoiOrder;
  /** The indirect object (A) and the subject (B). */
  readonly io: string;
  readonly s: string;
  /** Index of the second mention of the subject (the one the corruption replaces). */
  readonly s2: number;
  /** Index of the final word, the indirect object the prompt asks for. */
  readonly target: number;
}

export type ReferentKind = 'occupation' | 'neutral' | 'name';

export interface PronounDocument extends DocumentBase {
  readonly kind: 'pronoun';
  readonly referentKind: ReferentKind;
  /** The occupation, neutral noun or name the pronouns refer to. */
  readonly referent: string;
  /** The occupation (for named people, the one they are introduced with), or undefined for neutral nouns. */
  readonly occupation: string | undefined;
  readonly gender: Gender;
  /** Whether the gender is the occupation's stereotype; undefined for neutral nouns. */
  readonly stereotyped: boolean | undefined;
  readonly template: number;
  /** Index of the word where the template starts (after an intro, and after the naming sentence). */
  readonly templateStart: number;
  readonly pronouns: readonly { readonly index: number; readonly role: PronounRole }[];
}

export interface NarrativeDocument extends DocumentBase {
  readonly kind: 'narrative';
  readonly sentences: number;
}

export type WorldDocument = AgreementDocument | IoiDocument | PronounDocument | NarrativeDocument;

const NO_SPACE_BEFORE = new Set(['.', ',']);

/** Words as text, the way the word-level tokenizer decodes them (`went to the store, john ...`). */
export function renderWords(words: readonly string[]): string {
  let text = '';
  for (const word of words) {
    if (text.length > 0 && !NO_SPACE_BEFORE.has(word)) text += ' ';
    text += word;
  }
  return text;
}

/** The other grammatical number. */
export function flipNumber(number: GrammaticalNumber): GrammaticalNumber {
  return number === 'sg' ? 'pl' : 'sg';
}

/** The words with every present-tense verb in the other number (the disagreement target, docs/method.md §5). */
export function flipPresentVerbs(doc: DocumentBase): string[] {
  const words = [...doc.words];
  for (const verb of doc.presentVerbs) words[verb.index] = verb.number === 'sg' ? verb.pl : verb.sg;
  return words;
}

/**
 * The agreement document with its subject in the other number: the head noun flipped, and the verbs
 * that agree with it (the main verb, a subject relative clause's verb) flipped with it, so the result
 * is grammatical and has the same number of words.
 */
export function flipSubjectNumber(doc: AgreementDocument): string[] {
  const words = [...doc.words];
  const { head, number, sg, pl } = doc.subject;
  words[head] = number === 'sg' ? pl : sg;
  for (const verb of doc.presentVerbs) {
    if (verb.subject === head) words[verb.index] = verb.number === 'sg' ? verb.pl : verb.sg;
  }
  return words;
}
