import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** fixtures/reference (see its README): a tiny GPT-2 and golden outputs of an independent PyTorch GPT-2. */
const referenceData = fileURLToPath(new URL('../../../fixtures/reference/', import.meta.url));
export const tinyGpt2Dir = `${referenceData}gpt2-tiny`;
export const tinyGpt2F16Dir = `${referenceData}gpt2-tiny-f16-prefixed`;

export interface Golden {
  inputs: { clean: number[][]; corrupt: number[][]; pos: number[]; answer: number[]; foil: number[] };
  logits_clean_last_position: number[][];
  writer_output_norms_clean_last_position: Record<string, number[]>;
  metric: { value_clean: number };
  graph: { writers: string[]; edges_in_order: string[] };
  eap_corrupted_ablation: { positions_prediction: Record<string, number>; positions_all: Record<string, number> };
}

export function readGolden(dir: string): Golden {
  return JSON.parse(readFileSync(`${dir}/golden.json`, 'utf8')) as Golden;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
