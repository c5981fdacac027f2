/**
 * The world config: everything that decides the generated language and its corpus. Defaults are
 * the ones the embedded model is trained with (see docs/method.md §6 for why these shares).
 */
import { z } from 'zod';
import { ADJECTIVES, GIFTS, NOUNS, PLACES, VERBS } from './lexicon';
import { FEMALE_NAMES, MALE_NAMES, NEUTRAL_PEOPLE, OCCUPATIONS } from './people';

const share = z.number().min(0).max(1);
const count = (min: number, max: number) => z.number().int().min(min).max(max);

/** Shares of corpus documents by kind; they need not sum to 1 (they are normalised), but not all 0. */
export const CorpusMix = z
  .strictObject({
    agreement: z.number().min(0).default(0.35).describe('share of subject-verb agreement documents'),
    ioi: z.number().min(0).default(0.3).describe('share of indirect-object (IOI) documents'),
    pronoun: z.number().min(0).default(0.2).describe('share of pronoun (gender) documents'),
    narrative: z.number().min(0).default(0.15).describe('share of narrative documents'),
  })
  .refine((mix) => mix.agreement + mix.ioi + mix.pronoun + mix.narrative > 0, { message: 'at least one share must be positive' });

/** How often the optional parts of the grammar appear in corpus sentences. */
export const GrammarOptions = z.strictObject({
  /** Agreement sentences with something before the subject (`today ,`, `i think that`, `the dogs say that`). */
  introRate: share.default(0.5).describe('agreement sentences with something before the subject (`today ,`, `i think that`, `the dogs say that`)'),
  /** Agreement subjects with an adjective (`the old key`). */
  adjectiveRate: share.default(0.3).describe('agreement subjects with an adjective (`the old key`)'),
  /** Agreement subjects with a prepositional phrase (`the key to the cabinets`). */
  attractorRate: share.default(0.3).describe('agreement subjects with a prepositional phrase (`the key to the cabinets`)'),
  /** Agreement subjects with a relative clause (`the key that the men hold`); taken after attractors. */
  relativeClauseRate: share.default(0.2).describe('agreement subjects with a relative clause (`the key that the men hold`); taken after attractors'),
  /** A second verb phrase joined with `and`, which agrees with the same subject. */
  conjoinedRate: share.default(0.15).describe('a second verb phrase joined with `and`, which agrees with the same subject'),
  /** Pronoun documents about a named person (`mary is a nurse . she ...`). */
  namedPronounRate: share.default(0.2).describe('pronoun documents about a named person (`mary is a nurse . she ...`)'),
  /** Pronoun documents about an ungendered person noun (`the student said that he ...`), he and she equally. */
  neutralPronounRate: share
    .default(0.1)
    .describe('pronoun documents about an ungendered person noun (`the student said that he ...`), he and she equally'),
  /** Narrative documents hold this many sentences, uniformly. */
  narrativeSentences: z
    .tuple([z.number().int().min(1), z.number().int().min(1)])
    .default([2, 4])
    .describe('[fewest, most] sentences of a narrative document, drawn uniformly'),
  /** Share of narrative sentences in the present tense (they contain agreement too). */
  narrativePresentRate: share.default(0.3).describe('share of narrative sentences in the present tense (they contain agreement too)'),
});

/** How much of each word list the language uses (a prefix of each list in lexicon.ts / people.ts). */
export const VocabularyOptions = z.strictObject({
  nouns: count(4, NOUNS.length).default(NOUNS.length).describe(`nouns used, 4 to ${NOUNS.length}`),
  adjectives: count(2, ADJECTIVES.length).default(ADJECTIVES.length).describe(`adjectives used, 2 to ${ADJECTIVES.length}`),
  verbs: count(4, VERBS.length).default(VERBS.length).describe(`verbs used, 4 to ${VERBS.length}`),
  /** Names per gender. */
  names: count(3, Math.min(MALE_NAMES.length, FEMALE_NAMES.length))
    .default(MALE_NAMES.length)
    .describe(`names per gender, 3 to ${Math.min(MALE_NAMES.length, FEMALE_NAMES.length)}`),
  occupations: count(2, OCCUPATIONS.length).default(OCCUPATIONS.length).describe(`occupations used, 2 to ${OCCUPATIONS.length}`),
  neutralPeople: count(1, NEUTRAL_PEOPLE.length).default(NEUTRAL_PEOPLE.length).describe(`ungendered person nouns used, 1 to ${NEUTRAL_PEOPLE.length}`),
  places: count(2, PLACES.length).default(PLACES.length).describe(`places used, 2 to ${PLACES.length}`),
  gifts: count(2, GIFTS.length).default(GIFTS.length).describe(`gifts (IOI objects) used, 2 to ${GIFTS.length}`),
});

export const WorldConfig = z.strictObject({
  /** Seeds the corpus, the datasets and which items are held out for evaluation. */
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0).describe('seeds the corpus, the datasets and which items are held out for evaluation'),
  mix: CorpusMix.prefault({}).describe('shares of corpus documents by kind; normalised, so they need not sum to 1 (but not all 0)'),
  /**
   * Probability that a pronoun referring to an occupation has the occupation's stereotyped gender
   * (and that a named person gets an occupation of their gender's stereotype). 0.5 is unbiased.
   */
  stereotypeRate: share
    .default(0.8)
    .describe("probability that a pronoun for an occupation has the occupation's stereotyped gender (and a named person one of their gender's); 0.5 is unbiased"),
  /**
   * Share of held-out items (noun phrases, indirect-object prompts, narrative documents) that the
   * corpus never contains; dev and test prompts are drawn only from them, half each.
   */
  heldOutFraction: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.2)
    .describe('share of items held out of the corpus (noun phrases, IOI prompts, narratives); dev and test prompts come only from them'),
  /** Pronoun templates per occupation (and per neutral noun) that the corpus never uses with it; the gender eval uses them. */
  heldOutPronounTemplates: z
    .number()
    .int()
    .min(2)
    .max(4)
    .default(2)
    .describe('pronoun templates per occupation (and neutral noun) the corpus never uses with it, 2 to 4; the gender eval uses them'),
  grammar: GrammarOptions.prefault({}).describe('how often the optional parts of the grammar appear in corpus sentences'),
  vocabulary: VocabularyOptions.prefault({}).describe('how much of each word list the language uses (a prefix of each list)'),
});

export type WorldConfig = z.output<typeof WorldConfig>;
export type WorldConfigInput = z.input<typeof WorldConfig>;

/** Parses a world config (defaults applied, unknown keys rejected by zod). */
export function parseWorldConfig(input: WorldConfigInput = {}): WorldConfig {
  return WorldConfig.parse(input);
}
