import { defineTableSchema } from './table-schemas';

/**
 * Paired prompts for discovery and evaluation (one row per example). Positions count tokens of
 * `clean_ids` as stored, BOS included when the task prepends one: logits at `pos` predict the
 * token after it, and `answer`/`foil` are compared there.
 */
export const PromptsTable = defineTableSchema({
  name: 'ct.prompts',
  version: 1,
  description: 'Clean/corrupted prompt pairs of equal token length, with the prediction position and answer/foil tokens.',
  fields: [
    { name: 'id', type: 'int32', nullable: false },
    { name: 'split', type: 'utf8', nullable: false, description: 'train | dev | test' },
    { name: 'task', type: 'utf8', nullable: false },
    { name: 'clean_text', type: 'utf8', nullable: false },
    { name: 'clean_ids', type: 'list<int32>', nullable: false },
    { name: 'corrupt_text', type: 'utf8', nullable: true },
    { name: 'corrupt_ids', type: 'list<int32>', nullable: true, description: 'same length as clean_ids' },
    { name: 'pos', type: 'int32', nullable: false, description: 'index into clean_ids whose next-token logits are scored' },
    { name: 'answer', type: 'int32', nullable: false },
    { name: 'foil', type: 'int32', nullable: false },
    { name: 'target_text', type: 'utf8', nullable: true, description: 'fine-tuning target for this prompt, when the task has one' },
    { name: 'condition', type: 'utf8', nullable: false, description: "task-specific condition, e.g. 'attractor', 'pro', 'anti'; '' when none" },
    { name: 'group', type: 'utf8', nullable: false, description: "grouping key for per-group averages, e.g. the occupation; '' when none" },
  ],
});

/** Text for language-model training and held-out perplexity (one row per sequence). */
export const TextsTable = defineTableSchema({
  name: 'ct.texts',
  version: 1,
  description: 'Token sequences for next-token training or perplexity, with optional target positions.',
  fields: [
    { name: 'id', type: 'int32', nullable: false },
    { name: 'split', type: 'utf8', nullable: false, description: 'train | dev | test' },
    { name: 'task', type: 'utf8', nullable: false },
    { name: 'text', type: 'utf8', nullable: false },
    { name: 'ids', type: 'list<int32>', nullable: false },
    {
      name: 'target_positions',
      type: 'list<int32>',
      nullable: false,
      description: 'positions p whose next token ids[p+1] is a task target (for 1/p weighting and metrics); may be empty',
    },
  ],
});

/**
 * Rows an importer refused, one per source row, so that a file of thousands imports what it can
 * and says exactly what it left out and why (`reason` is a short code to count by, `message` the
 * full explanation with its hint).
 */
export const RejectsTable = defineTableSchema({
  name: 'ct.rejects',
  version: 1,
  description: 'Source rows an importer refused: where they are in the file, why, and their fields as read.',
  fields: [
    { name: 'file', type: 'utf8', nullable: false, description: 'the source file the row is in' },
    { name: 'row', type: 'int32', nullable: false, description: '1-based data row (a CSV header is not counted)' },
    { name: 'line', type: 'int32', nullable: false, description: '1-based line in the file where the row starts' },
    { name: 'reason', type: 'utf8', nullable: false, description: "short code, e.g. 'length-mismatch', 'multi-token-answer'" },
    { name: 'message', type: 'utf8', nullable: false, description: 'what is wrong with the row, and a hint where one helps' },
    { name: 'raw', type: 'utf8', nullable: false, description: 'the fields as read, as a JSON object (the line itself when it did not parse)' },
  ],
});
