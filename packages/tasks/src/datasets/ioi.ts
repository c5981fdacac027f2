/**
 * Indirect object identification (Wang et al. 2022), the general-capability check the embedded
 * model already does. Prompt: BOS and the sentence up to the final `to`; answer = the indirect
 * object (the name mentioned once), foil = the subject (the name mentioned twice). Corrupted
 * prompt: the second mention of the subject replaced by a third name (Wang et al.'s ABC
 * distribution), which leaves nothing to tell the two names apart; same length, one token each.
 * Condition: `ABBA` or `BABA`, in turn; group: `template-<i>`, templates in turn.
 */
import type { Rng } from '@circuit-tuning/runtime';
import { isTrainingDocument } from '../world/corpus';
import { type IoiDocument, renderWords } from '../world/document';
import { generateIoi, IOI_TEMPLATES } from '../world/grammar/ioi';
import { SPLITS } from '../world/held-out';
import { pick } from '../world/builder';
import type { World } from '../world/world';
import { collectDistinct, type SplitSizes } from './collect';
import type { PromptRow } from './rows';
import { worldPromptRow } from './world-prompt';

export const IOI_TASK = 'ioi';

export function buildIoiPrompts(world: World, rng: Rng, sizes: SplitSizes): PromptRow[] {
  const rows: PromptRow[] = [];
  const names = [...world.names.male, ...world.names.female];
  for (const split of SPLITS) {
    const docs = collectDistinct({
      what: IOI_TASK,
      split,
      size: sizes[split],
      draw: (i): IoiDocument | undefined => {
        const doc = generateIoi(world, rng, { template: i % IOI_TEMPLATES.length, order: Math.floor(i / IOI_TEMPLATES.length) % 2 === 0 ? 'ABBA' : 'BABA' });
        const inSplit = split === 'train' ? isTrainingDocument(world, doc) : world.heldOut.splitOf(doc.keys[0]!) === split;
        return inSplit ? doc : undefined;
      },
      key: (doc) => renderWords(doc.words.slice(0, doc.target)),
    });
    for (const doc of docs) {
      const prefix = doc.words.slice(0, doc.target);
      let third = pick(rng, names);
      while (third === doc.io || third === doc.s) third = pick(rng, names);
      const corrupt = [...prefix];
      corrupt[doc.s2] = third;
      rows.push(worldPromptRow(world, { split, task: IOI_TASK, prefix, corrupt, answer: doc.io, foil: doc.s, sentence: doc.words, condition: doc.order, group: `template-${doc.template}` }));
    }
  }
  return rows;
}
