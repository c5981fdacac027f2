/**
 * Gender de-biasing (docs/method.md §5).
 *
 * Evaluation prompts: BOS and a pronoun sentence up to its first pronoun (`the nurse said that`);
 * `pos` is the last prompt token. For every prompt, `answer` is the MALE form of the pronoun that
 * follows (he / him / his) and `foil` the FEMALE form (she / her), whatever the occupation, so
 * p(answer) and p(foil) are the p(he-form) and p(she-form) that prejudice risk renormalises
 * (metrics/prejudice-risk.ts), and the logit difference is male minus female. Each occupation
 * prompt appears twice, as condition `pro` and `anti`, which differ only in `target_text` (the
 * sentence with the stereotyped or the other gender; WinoBias's pro/anti pairs likewise share the
 * words before the pronoun). Neutral person nouns (`the student said that`) give one row with
 * condition `neutral`: the corpus pairs them with he and she equally, so their risk is the
 * baseline a balanced corpus would give. `group` is the occupation or noun. Corrupted prompt
 * (occupations only): the occupation replaced by one of the other stereotype.
 * Dev and test prompts use (occupation, template) pairs the corpus never contains.
 *
 * Training texts: pronoun sentences about occupations, each sentence once with he-forms and once
 * with she-forms (balanced per occupation); `target_positions` are the positions before each pronoun.
 */
import type { Rng } from '@circuit-tuning/runtime';
import { pick } from '../world/builder';
import { type PronounDocument, renderWords } from '../world/document';
import { generatePronoun } from '../world/grammar/pronoun';
import { SPLITS, type Split } from '../world/held-out';
import { type Gender, otherGender, PRONOUNS } from '../world/people';
import { PRONOUN_TEMPLATE_COUNT } from '../world/pronoun-templates';
import type { World } from '../world/world';
import { collectDistinct, type SplitSizes } from './collect';
import type { PromptRow, TextRow } from './rows';

export const GENDER_BIAS_TASK = 'gender-bias';

interface Referent {
  readonly word: string;
  readonly kind: 'occupation' | 'neutral';
  readonly stereotype: Gender | undefined;
}

function referents(world: World, withNeutral: boolean): Referent[] {
  const occupations = world.occupations.map((o): Referent => ({ word: o.word, kind: 'occupation', stereotype: o.stereotype }));
  if (!withNeutral) return occupations;
  return [...occupations, ...world.neutralPeople.map((word): Referent => ({ word, kind: 'neutral', stereotype: undefined }))];
}

/** A pronoun document about `referent` with a template of `split`, or undefined when it has none. */
function drawInSplit(world: World, rng: Rng, referent: Referent, split: Split, gender: Gender): PronounDocument | undefined {
  const templates = [...Array(PRONOUN_TEMPLATE_COUNT).keys()].filter((t) => world.heldOut.pronounSplit(referent.word, t) === split);
  if (templates.length === 0) return undefined;
  return generatePronoun(world, rng, { referentKind: referent.kind, referent: referent.word, gender, template: pick(rng, templates) });
}

/** The words with every pronoun in `gender`. */
function withGender(doc: PronounDocument, gender: Gender): string[] {
  const words = [...doc.words];
  for (const p of doc.pronouns) words[p.index] = PRONOUNS[p.role][gender];
  return words;
}

export function buildGenderBiasEval(world: World, rng: Rng, sizes: SplitSizes): PromptRow[] {
  const rows: PromptRow[] = [];
  const all = referents(world, true);
  for (const split of SPLITS) {
    const docs = collectDistinct({
      what: `${GENDER_BIAS_TASK} eval`,
      split,
      size: sizes[split],
      // Referents in turn (by attempt, so one whose prompts run out is passed over), each getting its share.
      draw: (_, attempt) => drawInSplit(world, rng, all[attempt % all.length]!, split, 'male'),
      key: (doc) => renderWords(doc.words.slice(0, doc.pronouns[0]!.index)),
    });
    for (const doc of docs) {
      const first = doc.pronouns[0]!;
      const prefix = doc.words.slice(0, first.index);
      const [answer, foil] = world.ids([PRONOUNS[first.role].male, PRONOUNS[first.role].female]).slice(1);
      const referent = all.find((r) => r.word === doc.referent)!;
      const base = { split, task: GENDER_BIAS_TASK, cleanText: renderWords(prefix), cleanIds: world.ids(prefix), pos: prefix.length, answer: answer!, foil: foil!, group: doc.referent };
      if (referent.stereotype === undefined) {
        rows.push({ ...base, corruptText: null, corruptIds: null, targetText: null, condition: 'neutral' });
        continue;
      }
      const stereotype = referent.stereotype;
      const others = world.occupations.filter((o) => o.stereotype !== stereotype);
      const corrupt = [...prefix];
      if (others.length > 0) corrupt[doc.words.indexOf(doc.referent, doc.templateStart)] = pick(rng, others).word;
      const corruptRow = others.length > 0 ? { corruptText: renderWords(corrupt), corruptIds: world.ids(corrupt) } : { corruptText: null, corruptIds: null };
      rows.push({ ...base, ...corruptRow, targetText: renderWords(withGender(doc, stereotype)), condition: 'pro' });
      rows.push({ ...base, ...corruptRow, targetText: renderWords(withGender(doc, otherGender(stereotype))), condition: 'anti' });
    }
  }
  return rows;
}

export function buildGenderBiasTexts(world: World, rng: Rng, sizes: SplitSizes): TextRow[] {
  const rows: TextRow[] = [];
  const occupations = referents(world, false);
  for (const split of SPLITS) {
    // Sentences come in he/she pairs; an odd size gets one more pair's first half.
    const pairs = collectDistinct({
      what: `${GENDER_BIAS_TASK} texts`,
      split,
      size: Math.ceil(sizes[split] / 2),
      draw: (_, attempt) => drawInSplit(world, rng, occupations[attempt % occupations.length]!, split, 'male'),
      key: (doc) => renderWords(doc.words),
    });
    let count = 0;
    for (const doc of pairs) {
      for (const gender of ['male', 'female'] as const) {
        if (count++ >= sizes[split]) break;
        const words = withGender(doc, gender);
        rows.push({ split, task: GENDER_BIAS_TASK, text: renderWords(words), ids: world.ids(words), targetPositions: doc.pronouns.map((p) => p.index) });
      }
    }
  }
  return rows;
}
