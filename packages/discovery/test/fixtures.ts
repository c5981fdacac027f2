import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PromptsTable } from '@circuit-tuning/contracts';
import { gpt2Config, loadModel, TransformerModel } from '@circuit-tuning/model';
import { createRng, ensureBackend, writeArrowTable } from '@circuit-tuning/runtime';
import { batchPrompts, type PromptExample, type PromptSet } from '../src/index';

/** fixtures/reference (see its README): a tiny GPT-2 and golden outputs of an independent PyTorch implementation. */
export const tinyGpt2Dir = fileURLToPath(new URL('../../../fixtures/reference/gpt2-tiny', import.meta.url));

export interface Golden {
  inputs: { clean: number[][]; corrupt: number[][]; pos: number[]; answer: number[]; foil: number[] };
  metric: { value_clean: number };
  graph: { writers: string[]; edges_in_order: string[] };
  eap_corrupted_ablation: { positions_prediction: Record<string, number>; positions_all: Record<string, number> };
}

export const readGolden = (): Golden => JSON.parse(readFileSync(`${tinyGpt2Dir}/golden.json`, 'utf8')) as Golden;

export async function goldenModel(): Promise<TransformerModel> {
  await ensureBackend();
  return loadModel(tinyGpt2Dir, { tokenizer: 'optional' });
}

/** The golden prompts as examples. */
export function goldenExamples(golden: Golden): PromptExample[] {
  const { clean, corrupt, pos, answer, foil } = golden.inputs;
  return clean.map((row, i) => ({ id: i, clean: row, corrupt: corrupt[i]!, pos: pos[i]!, answer: answer[i]!, foil: foil[i]! }));
}

/** A tiny random GPT-2: 2 layers × 4 heads, d 32 (110 edges in the full graph). */
export const tinyConfig = gpt2Config({ nLayers: 2, nHeads: 4, dModel: 32, vocabSize: 50, maxPositions: 16 });

export async function tinyRandomModel(seed = 7, config = tinyConfig): Promise<TransformerModel> {
  await ensureBackend();
  return TransformerModel.random(config, seed);
}

/**
 * Random prompt pairs: the corrupted prompt differs from the clean one in a few tokens (as task
 * corruptions do), the answer and foil are distinct random tokens, scored at the last position
 * unless `lastPos` is false (then somewhere in the second half).
 */
export function randomExamples(options: { seed: number; count: number; lengths: number[]; vocab: number; changed?: number; lastPos?: boolean }): PromptExample[] {
  const rng = createRng(options.seed);
  return Array.from({ length: options.count }, (_, id) => {
    const length = options.lengths[id % options.lengths.length]!;
    const clean = Array.from({ length }, () => rng.nextInt(options.vocab));
    const corrupt = clean.slice();
    for (let k = 0; k < (options.changed ?? 2); k++) corrupt[rng.nextInt(length)] = rng.nextInt(options.vocab);
    const answer = rng.nextInt(options.vocab);
    let foil = rng.nextInt(options.vocab);
    if (foil === answer) foil = (answer + 1) % options.vocab;
    const pos = options.lastPos === false ? Math.floor(length / 2) + rng.nextInt(Math.ceil(length / 2)) : length - 1;
    return { id, clean, corrupt, pos, answer, foil };
  });
}

export const asSet = (examples: PromptExample[], batchSize = 64, withCorrupt = true): PromptSet => batchPrompts(examples, batchSize, { withCorrupt });

/** Writes examples as a `ct.prompts` table. */
export async function writePrompts(path: string, examples: PromptExample[], texts?: string[]): Promise<void> {
  await writeArrowTable(
    path,
    PromptsTable,
    {
      id: Int32Array.from(examples, (e) => e.id),
      split: examples.map(() => 'train'),
      task: examples.map(() => 'toy'),
      clean_text: examples.map((_, i) => texts?.[i] ?? ''),
      clean_ids: examples.map((e) => e.clean),
      corrupt_text: examples.map(() => null),
      corrupt_ids: examples.map((e) => e.corrupt ?? null),
      pos: Int32Array.from(examples, (e) => e.pos),
      answer: Int32Array.from(examples, (e) => e.answer),
      foil: Int32Array.from(examples, (e) => e.foil),
      target_text: examples.map(() => null),
      condition: examples.map(() => ''),
      group: examples.map(() => ''),
    },
    { producer: 'discovery-tests' },
  );
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
