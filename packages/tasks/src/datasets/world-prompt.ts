import { renderWords } from '../world/document';
import type { Split } from '../world/held-out';
import type { World } from '../world/world';
import type { PromptRow } from './rows';

/** A prompt pair of the embedded world, in words: the clean prefix, its corruption, the two continuations. */
export interface WorldPrompt {
  split: Split;
  task: string;
  /** The clean words before the predicted position, and their corrupted counterpart (same length). */
  prefix: readonly string[];
  corrupt: readonly string[];
  /** The right next word and the wrong one the task contrasts it with. */
  answer: string;
  foil: string;
  /** The whole clean sentence (the row's target text). */
  sentence: readonly string[];
  condition: string;
  group: string;
}

/**
 * The prompt row of a world prompt: texts rendered and tokenized by the world's vocabulary, the
 * answer and foil as single tokens, predicted after the prefix (one place for the IOI and
 * agreement datasets, ./ioi.ts and ./subject-verb.ts).
 */
export function worldPromptRow(world: World, prompt: WorldPrompt): PromptRow {
  const [answer, foil] = world.ids([prompt.answer, prompt.foil]).slice(1);
  return {
    split: prompt.split,
    task: prompt.task,
    cleanText: renderWords(prompt.prefix),
    cleanIds: world.ids(prompt.prefix),
    corruptText: renderWords(prompt.corrupt),
    corruptIds: world.ids(prompt.corrupt),
    pos: prompt.prefix.length,
    answer: answer!,
    foil: foil!,
    targetText: renderWords(prompt.sentence),
    condition: prompt.condition,
    group: prompt.group,
  };
}
