/**
 * Agreement sentences: a definite subject, optionally modified by a prepositional phrase (an
 * attractor: `the key to the cabinets is`) or a relative clause (`the key that the dogs see is`,
 * `the dog that likes the cats is`), and a present-tense verb that agrees with the head noun.
 *
 * The subject does not always open the sentence: an intro (`today ,`, `i think that`, `the boys say
 * that`) moves it, so a model cannot solve agreement from position alone (docs/method.md §6). Intros of
 * the form `NP verb that` add an agreeing verb of their own before the subject.
 */
import type { Rng } from '@circuit-tuning/runtime';
import {
  chance,
  DocumentBuilder,
  definiteNounPhrase,
  type NounPhrase,
  objectPhrase,
  pick,
  pickWeighted,
  randomNumber,
} from '../builder';
import { type AgreementCondition, type AgreementDocument, flipNumber } from '../document';
import { CLAUSE_VERBS, type GrammaticalNumber, NOUN_PREPOSITIONS, type VerbEntry, type VerbKind } from '../lexicon';
import type { World } from '../world';

export interface AgreementSpec {
  /** Default: drawn with the grammar's attractor and relative-clause rates. */
  readonly condition?: AgreementCondition;
  readonly number?: GrammaticalNumber;
  /** Give the attractor (or the relative clause's other noun) the other number than the subject. Default: random. */
  readonly mismatch?: boolean;
  /** Force (or forbid) an adjective on the subject. Default: the grammar's adjective rate. */
  readonly adjective?: boolean;
  /** Force (or forbid) an intro. Default: the grammar's intro rate. */
  readonly intro?: boolean;
}

const ADVERBIAL_INTROS: readonly (readonly string[])[] = [
  ['today', ','],
  ['now', ','],
  ['as', 'usual', ','],
  ['in', 'the', 'morning', ','],
  ['at', 'night', ','],
  ['of', 'course', ','],
  ['every', 'day', ','],
];

/** Pronoun subjects of intro clauses with the verb form they take (`i think`, `everyone says`). */
const INTRO_PRONOUNS: readonly (readonly [string, GrammaticalNumber])[] = [
  ['i', 'pl'],
  ['we', 'pl'],
  ['you', 'pl'],
  ['they', 'pl'],
  ['everyone', 'sg'],
];

const INTRANSITIVE_TAILS: readonly (readonly string[])[] = [[], [], ['today'], ['again'], ['here'], ['at', 'night'], ['every', 'day']];

export function generateAgreement(world: World, rng: Rng, spec: AgreementSpec = {}): AgreementDocument {
  const g = world.config.grammar;
  const b = new DocumentBuilder();
  if (spec.intro ?? chance(rng, g.introRate)) intro(world, rng, b);

  const condition = spec.condition ?? drawCondition(rng, g.attractorRate, g.relativeClauseRate);
  const number = spec.number ?? randomNumber(rng);
  const np = definiteNounPhrase(world, rng, b, { number, adjective: spec.adjective ?? chance(rng, g.adjectiveRate) });
  const otherNumber = (): GrammaticalNumber => (spec.mismatch === undefined ? randomNumber(rng) : spec.mismatch ? flipNumber(number) : number);
  let attractor: AgreementDocument['attractor'];
  if (condition === 'attractor') {
    b.push(pick(rng, NOUN_PREPOSITIONS));
    const inner = definiteNounPhrase(world, rng, b, { number: otherNumber(), adjective: chance(rng, g.adjectiveRate / 2), notNoun: np.noun });
    attractor = { index: inner.head, number: inner.number };
  } else if (condition === 'relative-clause') {
    attractor = relativeClause(world, rng, b, np, otherNumber(), g.adjectiveRate / 2);
  }
  // The whole subject phrase is a held-out unit; a simple one only with an adjective (its key is the noun phrase's).
  const subjectKey = condition === 'simple' ? np.key : b.key('np', np.start);

  const mainVerb = verbPhrase(world, rng, b, np);
  if (chance(rng, g.conjoinedRate)) {
    b.push('and');
    verbPhrase(world, rng, b, np);
  }
  b.push('.');
  return {
    kind: 'agreement',
    words: b.words,
    presentVerbs: b.presentVerbs,
    keys: b.keys,
    condition,
    subject: { start: np.start, head: np.head, number, sg: np.noun.sg, pl: np.noun.pl, key: subjectKey },
    mainVerb,
    attractor,
  };
}

function drawCondition(rng: Rng, attractorRate: number, relativeRate: number): AgreementCondition {
  const u = rng.next();
  if (u < attractorRate) return 'attractor';
  if (u < attractorRate + relativeRate) return 'relative-clause';
  return 'simple';
}

/** Something before the subject: an adverbial, or a clause `X verb that` (present or past). */
function intro(world: World, rng: Rng, b: DocumentBuilder): void {
  const clauseVerb = () => pick(rng, CLAUSE_VERBS.slice(0, 3));
  switch (pickWeighted(rng, [3, 2, 2, 1])) {
    case 0:
      b.push(...pick(rng, ADVERBIAL_INTROS));
      return;
    case 1: {
      if (chance(rng, 0.2)) {
        const it = b.push('it');
        b.presentVerb(CLAUSE_VERBS[3]!, 'sg', it);
      } else {
        const [pronoun, number] = pick(rng, INTRO_PRONOUNS);
        const subject = b.push(pronoun);
        b.presentVerb(clauseVerb(), number, subject);
      }
      b.push('that');
      return;
    }
    case 2: {
      // A noun phrase or a name with its own agreeing verb: a distractor before the real subject.
      if (chance(rng, 0.5)) {
        const name = b.push(pick(rng, chance(rng, 0.5) ? world.names.male : world.names.female));
        b.presentVerb(clauseVerb(), 'sg', name);
      } else {
        const number = randomNumber(rng);
        const np = definiteNounPhrase(world, rng, b, { number, adjective: false });
        b.presentVerb(clauseVerb(), number, np.head);
      }
      b.push('that');
      return;
    }
    default:
      b.push(pick(rng, chance(rng, 0.5) ? world.names.male : world.names.female), clauseVerb().past, 'that');
  }
}

/** `that the dogs see` (object relative) or `that likes the cats` / `that is near the boxes` (subject relative). */
function relativeClause(world: World, rng: Rng, b: DocumentBuilder, head: NounPhrase, otherNumber: GrammaticalNumber, adjectiveRate: number) {
  const verbs = world.verbs.filter((v) => v.kind === 'transitive' || v.kind === 'have');
  b.push('that');
  if (chance(rng, 0.5)) {
    const inner = definiteNounPhrase(world, rng, b, { number: otherNumber, adjective: chance(rng, adjectiveRate), notNoun: head.noun });
    b.presentVerb(pick(rng, verbs), inner.number, inner.head);
    return { index: inner.head, number: inner.number };
  }
  const copula = world.verbs[0]!;
  if (chance(rng, 0.3)) {
    b.presentVerb(copula, head.number, head.head);
    b.push(pick(rng, NOUN_PREPOSITIONS));
  } else {
    b.presentVerb(pick(rng, verbs), head.number, head.head);
  }
  const inner = definiteNounPhrase(world, rng, b, { number: otherNumber, adjective: chance(rng, adjectiveRate), notNoun: head.noun });
  return { index: inner.head, number: inner.number };
}

const VERB_KIND_WEIGHTS: Readonly<Record<VerbKind, number>> = { copula: 0.3, have: 0.15, transitive: 0.35, intransitive: 0.2 };

/** A present-tense verb agreeing with `subject` and what follows it; returns the verb's index. */
export function verbPhrase(world: World, rng: Rng, b: DocumentBuilder, subject: Pick<NounPhrase, 'head' | 'number'>): number {
  const g = world.config.grammar;
  const kinds = (Object.keys(VERB_KIND_WEIGHTS) as VerbKind[]).filter((kind) => world.verbs.some((v) => v.kind === kind));
  const kind = kinds[pickWeighted(rng, kinds.map((k) => VERB_KIND_WEIGHTS[k]))]!;
  const verb: VerbEntry = pick(
    rng,
    world.verbs.filter((v) => v.kind === kind),
  );
  const index = b.presentVerb(verb, subject.number, subject.head);
  switch (kind) {
    case 'copula': {
      const u = rng.next();
      if (u < 0.6) b.push(pick(rng, world.adjectives));
      else if (u < 0.85) {
        b.push(pick(rng, NOUN_PREPOSITIONS));
        definiteNounPhrase(world, rng, b, { number: randomNumber(rng), adjective: chance(rng, g.adjectiveRate / 2) });
      } else b.push(pick(rng, ['here', 'there']));
      break;
    }
    case 'have':
      objectPhrase(world, rng, b, g.adjectiveRate / 2);
      break;
    case 'transitive':
      if (chance(rng, 0.2)) b.push(pick(rng, chance(rng, 0.5) ? world.names.male : world.names.female));
      else objectPhrase(world, rng, b, g.adjectiveRate / 2);
      break;
    case 'intransitive':
      b.push(...pick(rng, INTRANSITIVE_TAILS));
      break;
  }
  return index;
}
