/**
 * Garbage collection of an artifact store (`ct store gc`), the same on both implementations
 * (artifact-store.ts's interface). What a store holds, and who says it is still wanted:
 *
 *   refs/<owner>       what one run or trial used (store/step-sync.ts writes it as it goes): the
 *                      steps it took or stored, its run directory entry. Kept when it was written
 *                      within the age, or its owner (a sweep id, a run's job id) is named to keep.
 *   steps/<key>        finished steps, and runs/<sweep>/<index> finished trials: removed when no
 *                      kept reference names them and they are older than the age
 *   partial/<key>      a running step's resumable state: removed when older than the age, unless
 *                      its lease (leases/<key>, renewed by the job while the step runs) is live
 *   leases/<key>       removed once expired and older than the age
 *   temps              writes never published (a writer died): removed when older than the age
 *
 * Nothing written within the age is ever removed, whatever references it: a run in progress, or
 * a step a worker just stored for a coordinator that has not fetched it yet. The store's identity
 * (store-id) and anything else is never touched. Without `remove` nothing is: the plan is returned.
 */
import { ConfigError } from '@circuit-tuning/contracts';
import type { ArtifactStore, StoreEntry } from './artifact-store';

export const REFS_PREFIX = 'refs/';
export const LEASES_PREFIX = 'leases/';
/** A lease is renewed this often while its step runs, and is live for three times as long. */
export const LEASE_RENEW_MS = 60_000;
export const LEASE_TTL_MS = 3 * LEASE_RENEW_MS;

/** What a reference entry holds. */
export interface StoreReference {
  format: 'ct-store-ref/1';
  owner: string;
  /** Store keys it uses: steps/…, runs/… */
  keys: string[];
  updatedAt: string;
}

export interface GcOptions {
  /** Entries and references written within this many milliseconds stay. */
  olderThanMs: number;
  /** Owners (a sweep id keeps its trials' references, `<sweep>/<index>`) whose references stay, however old. */
  keep?: readonly string[];
  /** Remove what the plan lists; without it, nothing is removed. */
  remove?: boolean;
  now?: Date;
}

export interface GcItem {
  /** A store key, or for a temp the temp's name (`temp` true). */
  key: string;
  temp: boolean;
  bytes: number;
  modified: Date;
  why: string;
}

export interface GcResult {
  /** What goes (or, without `remove`, would go). */
  items: GcItem[];
  bytes: number;
  /** What stays, by kind. */
  kept: { references: number; entries: number; bytes: number };
  removed: boolean;
}

/** Reads '30m', '12h', '7d', '90s' (or a number of seconds) as milliseconds. */
export function parseAge(text: string, option = '--older-than'): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)?$/.exec(text.trim());
  if (match === null) throw new ConfigError(`${option} '${text}': expected an age such as 90s, 30m, 12h or 7d`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(match[1]) * unit);
}

export async function collectGarbage(store: ArtifactStore, options: GcOptions): Promise<GcResult> {
  const now = (options.now ?? new Date()).getTime();
  const old = (entry: StoreEntry) => now - entry.modified.getTime() > options.olderThanMs;
  const keep = options.keep ?? [];
  const items: GcItem[] = [];
  const kept = { references: 0, entries: 0, bytes: 0 };
  const go = (entry: StoreEntry, why: string, temp = false) => items.push({ key: entry.key, temp, bytes: entry.bytes, modified: entry.modified, why });
  const stay = (entry: StoreEntry) => {
    kept.entries += 1;
    kept.bytes += entry.bytes;
  };

  const referenced = new Set<string>();
  for (const entry of await store.entries(REFS_PREFIX)) {
    const owner = entry.key.slice(REFS_PREFIX.length);
    const named = keep.some((k) => owner === k || owner.startsWith(`${k}/`));
    if (named || !old(entry)) {
      const reference = await readReference(store, entry.key);
      for (const key of reference?.keys ?? []) referenced.add(key);
      kept.references += 1;
      stay(entry);
    } else go(entry, 'reference of a run or trial older than the age');
  }
  const leases = new Map((await store.entries(LEASES_PREFIX)).map((e) => [e.key.slice(LEASES_PREFIX.length), e]));
  const leaseLive = (key: string) => {
    const lease = leases.get(key);
    return lease !== undefined && now - lease.modified.getTime() <= LEASE_TTL_MS;
  };
  for (const prefix of ['steps/', 'runs/']) {
    for (const entry of await store.entries(prefix)) {
      if (referenced.has(entry.key) || !old(entry)) stay(entry);
      else go(entry, 'no kept run or trial uses it');
    }
  }
  for (const entry of await store.entries('partial/')) {
    const key = entry.key.slice('partial/'.length);
    if (leaseLive(key) || !old(entry)) stay(entry);
    else go(entry, 'resumable state of a step no job is running');
  }
  for (const [key, entry] of leases) {
    if (leaseLive(key) || !old(entry)) stay(entry);
    else go(entry, 'expired lease');
  }
  for (const temp of await store.temps()) {
    if (old(temp)) go(temp, 'write never published (its writer stopped)', true);
  }

  if (options.remove) {
    for (const item of items) {
      if (item.temp) await store.removeTemp(item.key);
      else await store.remove(item.key);
    }
  }
  return { items, bytes: items.reduce((sum, i) => sum + i.bytes, 0), kept, removed: options.remove === true };
}

/** A reference entry, or undefined when it is unreadable (it then protects nothing, and goes with age). */
export async function readReference(store: ArtifactStore, key: string): Promise<StoreReference | undefined> {
  try {
    const bytes = await store.get(key);
    if (bytes === undefined) return undefined;
    const value = JSON.parse(new TextDecoder().decode(bytes)) as Partial<StoreReference>;
    return value.format === 'ct-store-ref/1' && Array.isArray(value.keys) ? (value as StoreReference) : undefined;
  } catch {
    return undefined;
  }
}
