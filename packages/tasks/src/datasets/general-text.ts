/**
 * General text: narrative documents, for held-out perplexity (general capability, docs/method.md §5).
 * Dev and test documents are held out of the corpus by a hash of their text; `target_positions`
 * is empty (every position counts).
 */
import type { Rng } from '@circuit-tuning/runtime';
import { isTrainingDocument } from '../world/corpus';
import { type NarrativeDocument, renderWords } from '../world/document';
import { generateNarrative } from '../world/grammar/narrative';
import { SPLITS } from '../world/held-out';
import type { World } from '../world/world';
import { collectDistinct, type SplitSizes } from './collect';
import type { TextRow } from './rows';

export const GENERAL_TEXT_TASK = 'general-text';

export function buildGeneralText(world: World, rng: Rng, sizes: SplitSizes): TextRow[] {
  const rows: TextRow[] = [];
  for (const split of SPLITS) {
    const docs = collectDistinct({
      what: GENERAL_TEXT_TASK,
      split,
      size: sizes[split],
      draw: (): NarrativeDocument | undefined => {
        const doc = generateNarrative(world, rng);
        const inSplit = split === 'train' ? isTrainingDocument(world, doc) : world.heldOut.splitOf(doc.keys[doc.keys.length - 1]!) === split;
        return inSplit ? doc : undefined;
      },
      key: (doc) => renderWords(doc.words),
    });
    for (const doc of docs) rows.push({ split, task: GENERAL_TEXT_TASK, text: renderWords(doc.words), ids: world.ids(doc.words), targetPositions: [] });
  }
  return rows;
}
