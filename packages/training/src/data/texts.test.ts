import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactError, TextsTable } from '@circuit-tuning/contracts';
import { writeArrowTable } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTexts, textDataset } from './texts';

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-texts-'));
  file = join(dir, 'texts.arrow');
  const ids = [[1, 2, 3], [1, 2, 3, 4, 5, 6, 7], [1, 2]];
  await writeArrowTable(file, TextsTable, {
    id: Int32Array.from([0, 1, 2]),
    split: ['train', 'train', 'dev'],
    task: ['t', 't', 't'],
    text: ['a b', 'a b c d e f', 'a'],
    ids,
    target_positions: [[], [], []],
  }, { producer: 'texts.test' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('textDataset', () => {
  const options = { packing: 'padded' as const, seqLen: 4, separatorId: 0, padId: 0 };

  it('refuses a padded text longer than seqLen, naming the file and the table row', async () => {
    const error = await Promise.resolve()
      .then(async () => textDataset(await readTexts(file, 'train'), options))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactError);
    expect((error as ArtifactError).file).toBe(file);
    expect((error as Error).message).toMatch(/row 1 holds 7 tokens, more than seqLen 4 \(1 of 2 rows are longer\)/);
  });

  it('packs the same texts into full windows', async () => {
    const dataset = textDataset(await readTexts(file, 'train'), { ...options, packing: 'packed', separatorId: 1 });
    expect(dataset.size).toBe(2); // 3 + 7 tokens that begin with the separator: 10 tokens, two windows of 4
  });
});
