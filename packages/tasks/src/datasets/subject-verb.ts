/**
 * Subject-verb agreement and disagreement (docs/method.md §5).
 *
 * One prompt per sentence: BOS and the sentence up to (not including) the main verb; `pos` is the
 * last prompt token. Agreement: answer = the verb form agreeing with the subject, foil = the other
 * number's form. Disagreement: the same prompts with answer and foil swapped, and as target the
 * sentence with every present-tense verb flipped (the paper trains the model to disagree).
 * Corrupted prompt: the subject noun in the other number (and a subject relative clause's verb with
 * it), one token for one token, so clean and corrupt have the same length and opposite answers.
 *
 * Conditions: `simple` (`the old key`), `attractor` (`the key to the cabinets`, the attractor always
 * in the other number) and `relative-clause` (`the key that the dogs see`, `the key that likes the
 * dogs`, the other noun always in the other number), in equal shares, each half singular.
 * Dev and test prompts come from held-out subject phrases (see held-out.ts), which is why their
 * simple subjects always carry an adjective: a bare `the key` cannot be held out.
 */
import type { Rng } from '@circuit-tuning/runtime';
import { isTrainingDocument } from '../world/corpus';
import {
  AGREEMENT_CONDITIONS,
  type AgreementDocument,
  flipPresentVerbs,
  flipSubjectNumber,
  renderWords,
} from '../world/document';
import { generateAgreement } from '../world/grammar/agreement';
import { SPLITS, type Split } from '../world/held-out';
import type { GrammaticalNumber } from '../world/lexicon';
import type { World } from '../world/world';
import { collectDistinct, type SplitSizes } from './collect';
import type { PromptRow, TextRow } from './rows';
import { worldPromptRow } from './world-prompt';

export const SV_AGREEMENT_TASK = 'sv-agreement';
export const SV_DISAGREEMENT_TASK = 'sv-disagreement';

/** An agreement sentence whose subject phrase lies in `split` (for train: the whole sentence may be in the corpus). */
export function drawAgreementInSplit(
  world: World,
  rng: Rng,
  split: Split,
  spec: { condition?: AgreementDocument['condition']; number?: GrammaticalNumber; mismatch?: boolean } = {},
): AgreementDocument | undefined {
  const condition = spec.condition ?? AGREEMENT_CONDITIONS[rng.nextInt(AGREEMENT_CONDITIONS.length)]!;
  const doc = generateAgreement(world, rng, {
    ...spec,
    condition,
    // Held-out units need a modifier; a simple subject gets it from an adjective.
    ...(split !== 'train' && condition === 'simple' ? { adjective: true } : {}),
  });
  if (split === 'train') return isTrainingDocument(world, doc) ? doc : undefined;
  const key = doc.subject.key;
  return key !== undefined && world.heldOut.splitOf(key) === split ? doc : undefined;
}

/** Agreement prompts and the matching disagreement prompts, row for row. */
export function buildSubjectVerbPrompts(world: World, rng: Rng, sizes: SplitSizes): { agreement: PromptRow[]; disagreement: PromptRow[] } {
  const agreement: PromptRow[] = [];
  const disagreement: PromptRow[] = [];
  for (const split of SPLITS) {
    const docs = collectDistinct({
      what: SV_AGREEMENT_TASK,
      split,
      size: sizes[split],
      draw: (i) => {
        // Balanced: conditions in turn, and within each condition singular and plural in turn.
        const condition = AGREEMENT_CONDITIONS[i % AGREEMENT_CONDITIONS.length]!;
        const number: GrammaticalNumber = Math.floor(i / AGREEMENT_CONDITIONS.length) % 2 === 0 ? 'sg' : 'pl';
        return drawAgreementInSplit(world, rng, split, { condition, number, mismatch: condition !== 'simple' });
      },
      key: (doc) => renderWords(doc.words.slice(0, doc.mainVerb)),
    });
    for (const doc of docs) {
      const row = agreementPrompt(world, doc, split);
      agreement.push(row);
      disagreement.push({
        ...row,
        task: SV_DISAGREEMENT_TASK,
        answer: row.foil,
        foil: row.answer,
        targetText: renderWords(flipPresentVerbs(doc)),
      });
    }
  }
  return { agreement, disagreement };
}

function agreementPrompt(world: World, doc: AgreementDocument, split: Split): PromptRow {
  const prefix = doc.words.slice(0, doc.mainVerb);
  const corrupt = flipSubjectNumber(doc).slice(0, doc.mainVerb);
  const verb = doc.presentVerbs.find((v) => v.index === doc.mainVerb)!;
  const [agreeing, other] = verb.number === 'sg' ? [verb.sg, verb.pl] : [verb.pl, verb.sg];
  return worldPromptRow(world, { split, task: SV_AGREEMENT_TASK, prefix, corrupt, answer: agreeing, foil: other, sentence: doc.words, condition: doc.condition, group: doc.subject.number });
}

/**
 * Fine-tuning text for disagreement: agreement sentences with every present-tense verb flipped;
 * `target_positions` are the positions just before each flipped verb.
 */
export function buildDisagreementTexts(world: World, rng: Rng, sizes: SplitSizes): TextRow[] {
  const rows: TextRow[] = [];
  for (const split of SPLITS) {
    const docs = collectDistinct({
      what: `${SV_DISAGREEMENT_TASK} texts`,
      split,
      size: sizes[split],
      draw: () => drawAgreementInSplit(world, rng, split),
      key: (doc) => renderWords(doc.words),
    });
    for (const doc of docs) {
      const words = flipPresentVerbs(doc);
      rows.push({
        split,
        task: SV_DISAGREEMENT_TASK,
        text: renderWords(words),
        ids: world.ids(words),
        // Word i is token i + 1, so the position that predicts it is i.
        targetPositions: doc.presentVerbs.map((v) => v.index),
      });
    }
  }
  return rows;
}
