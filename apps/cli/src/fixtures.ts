import { fileURLToPath } from 'node:url';

/** The repository's fixtures/ folder (embedded models, small datasets, pipeline configs). */
export const fixturesDir = fileURLToPath(new URL('../../../fixtures/', import.meta.url));

/** The embedded default model: trained by this project (`pnpm exec ct train-embedded`), with its card. */
export const defaultModelDir = `${fixturesDir}models/default`;

/** A tiny randomly initialised GPT-2 with a word-level tokenizer (packages/model/scripts/make-tiny-model.ts), for fast smoke tests. */
export const tinyModelDir = `${fixturesDir}models/tiny-random-gpt2`;
