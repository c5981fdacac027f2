import { ArtifactError, TextsTable } from '@circuit-tuning/contracts';
import { readArrowTable } from '@circuit-tuning/runtime';
import { SequenceDataset } from './batches';

export interface TextRows {
  /** The table the rows come from, and each row's index in it (for errors that name the row). */
  file: string;
  rows: number[];
  ids: number[][];
  targets: number[][];
}

/** Reads the rows of a ct.texts table, optionally only one split. */
export async function readTexts(path: string, split?: string): Promise<TextRows> {
  const table = await readArrowTable(path, TextsTable);
  const rows: number[] = [];
  const ids: number[][] = [];
  const targets: number[][] = [];
  for (let i = 0; i < table.numRows; i++) {
    if (split !== undefined && table.columns.split[i] !== split) continue;
    rows.push(i);
    ids.push(table.columns.ids[i]!);
    targets.push(table.columns.target_positions[i]!);
  }
  return { file: path, rows, ids, targets };
}

/**
 * Turns text rows into training sequences: `packed` concatenates documents into full windows
 * (pre-training); `padded` keeps one example per sequence with loss weights on its real tokens
 * (fine-tuning on task sentences, optionally up-weighting target positions).
 */
export function textDataset(
  rows: TextRows,
  options: { packing: 'packed' | 'padded'; seqLen: number; separatorId: number; padId: number; targetWeight?: number },
): SequenceDataset {
  if (options.packing === 'packed') return SequenceDataset.packed(rows.ids, options.seqLen, options.separatorId);
  // One sequence per text: a text longer than seqLen would be cut, changing what is learnt.
  const longest = rows.ids.reduce((best, ids, i) => (ids.length > (rows.ids[best]?.length ?? 0) ? i : best), 0);
  const longestLength = rows.ids[longest]?.length ?? 0;
  if (longestLength > options.seqLen) {
    const count = rows.ids.filter((ids) => ids.length > options.seqLen).length;
    throw new ArtifactError(rows.file, `row ${rows.rows[longest]} holds ${longestLength} tokens, more than seqLen ${options.seqLen} (${count} of ${rows.ids.length} rows are longer)`, {
      hint: `raise seqLen to at least ${longestLength}, or set packing: packed to train on ${options.seqLen}-token windows of the concatenated texts`,
    });
  }
  return SequenceDataset.padded(
    rows.ids.map((ids, i) => ({ ids, targets: rows.targets[i]! })),
    { padId: options.padId, maxSeq: options.seqLen, ...(options.targetWeight === undefined ? {} : { targetWeight: options.targetWeight }) },
  );
}
