/**
 * Splitting imported rows into train/dev/test deterministically, by a hash of a key of the row
 * (its text, or its id), so re-importing gives the same split and related rows stay together.
 */
import { ConfigError } from '@circuit-tuning/contracts';
import { z } from 'zod';
import { hash01, type Split } from '../world/held-out';

/** Shares of train, dev and test (normalised); `{ train: 0, dev: 0, test: 1 }` puts everything in test. */
export const SplitShares = z
  .strictObject({
    train: z.number().min(0).default(0).describe('share of the rows in the train split'),
    dev: z.number().min(0).default(0).describe('share of the rows in the dev split'),
    test: z.number().min(0).default(0).describe('share of the rows in the test split'),
  })
  .refine((s) => s.train + s.dev + s.test > 0, { message: 'at least one split share must be positive' });

export type SplitShares = z.output<typeof SplitShares>;

export function splitByHash(key: string, shares: SplitShares): Split {
  const total = shares.train + shares.dev + shares.test;
  if (!(total > 0)) throw new ConfigError('split shares must not all be 0');
  const u = hash01(`ct-import/${key}`) * total;
  if (u < shares.train) return 'train';
  if (u < shares.train + shares.dev) return 'dev';
  return 'test';
}
