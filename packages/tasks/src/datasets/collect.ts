/**
 * Drawing a fixed number of distinct examples by rejection: the builders propose candidates
 * (most are rejected because they fall into another split), and this keeps the first `size`
 * distinct ones, or says clearly that the world is too small for the size asked.
 */
import { ConfigError } from '@circuit-tuning/contracts';
import { z } from 'zod';
import type { Split } from '../world/held-out';

/** Candidates tried per example wanted before giving up. */
const ATTEMPTS_PER_EXAMPLE = 400;
/** Consecutive candidates without a new example after which the world is taken to be exhausted. */
const MAX_FRUITLESS_ATTEMPTS = 5000;

export function collectDistinct<T>(options: {
  what: string;
  split: Split;
  size: number;
  /** Called with the index of the example being drawn and the attempt number; undefined rejects the attempt. */
  draw: (index: number, attempt: number) => T | undefined;
  key: (item: T) => string;
}): T[] {
  const { what, split, size, draw, key } = options;
  const items: T[] = [];
  const seen = new Set<string>();
  let attempts = 0;
  let fruitless = 0;
  const budget = Math.max(1000, size * ATTEMPTS_PER_EXAMPLE);
  while (items.length < size) {
    if (attempts++ >= budget || fruitless++ >= MAX_FRUITLESS_ATTEMPTS) {
      throw new ConfigError(`${what}: found only ${items.length} distinct ${split} examples of the ${size} asked for`, {
        hint: 'ask for fewer examples, raise world.heldOutFraction (dev/test), or enlarge the vocabulary',
      });
    }
    const item = draw(items.length, attempts - 1);
    if (item === undefined) continue;
    const k = key(item);
    if (seen.has(k)) continue;
    seen.add(k);
    items.push(item);
    fruitless = 0;
  }
  return items;
}

const size = (value: number) => z.number().int().min(0).max(1_000_000).default(value);

/** Examples per split; each field has its own default so a config may give only one. */
export function splitSizes(train: number, dev: number, test: number) {
  return z
    .strictObject({
      train: size(train).describe('examples in the train split'),
      dev: size(dev).describe('examples in the dev split'),
      test: size(test).describe('examples in the test split'),
    })
    .prefault({});
}

export type SplitSizes = Readonly<Record<Split, number>>;
