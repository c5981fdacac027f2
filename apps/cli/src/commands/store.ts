import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '@circuit-tuning/contracts';
import { type ArtifactStore, collectGarbage, connectQueue, describeQueue, openDirStore, openNatsStore, parseAge, queueUrl } from '@circuit-tuning/pipeline';
import type { Command } from '../command';
import { COMMAND_INFO } from './catalog';
import { listOption, userPath } from '../cli-support';

const SUBCOMMANDS = ['gc'] as const;

/** The artifact store's upkeep; see `circuit-tuning store --help`. */
export const storeCommand: Command = {
  ...COMMAND_INFO['store'],
  async run({ values, positionals }) {
    const [sub, ...extra] = positionals;
    if (sub === undefined || !(SUBCOMMANDS as readonly string[]).includes(sub) || extra.length > 0) {
      throw new ConfigError(sub === undefined ? 'store needs a subcommand' : `store: unknown subcommand '${[sub, ...extra].join(' ')}'`, { hint: `valid: ${SUBCOMMANDS.join(', ')} (circuit-tuning store --help)` });
    }
    const olderThanMs = parseAge((values['older-than'] as string | undefined) ?? '7d');
    const { store, close } = await openStore(values.store as string | undefined, values.queue as string | undefined);
    try {
      const result = await collectGarbage(store, { olderThanMs, keep: listOption(values.keep), remove: values.delete === true });
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ store: store.description, ...result }, null, 2)}\n`);
        return 0;
      }
      const mb = (bytes: number) => (bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`);
      const lines = result.items.map((i) => `${i.key.padEnd(60)} ${mb(i.bytes).padStart(10)}  ${i.modified.toISOString().slice(0, 16).replace('T', ' ')}  ${i.why}`);
      const verb = result.removed ? 'removed' : 'would remove (a dry run: add --delete to remove)';
      lines.push(
        `${store.description}: ${verb} ${result.items.length} entr${result.items.length === 1 ? 'y' : 'ies'}, ${mb(result.bytes)}; kept ${result.kept.entries} (${mb(result.kept.bytes)}), ${result.kept.references} sweep or run reference(s)`,
      );
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    } finally {
      await close();
    }
  },
};

/** The store named by --store (or CT_STORE), else the queue server's object store. */
async function openStore(storeFlag: string | undefined, queueFlag: string | undefined): Promise<{ store: ArtifactStore; close(): Promise<void> }> {
  const dir = storeFlag ?? (queueFlag === undefined ? process.env.CT_STORE : undefined);
  if (dir !== undefined && dir !== '' && dir !== 'nats') {
    if (queueFlag !== undefined) throw new ConfigError('--store and --queue name two stores; give one', { hint: '--store DIR for a shared directory, --queue URL for the queue server\'s object store' });
    const path = userPath(dir);
    if (!(await stat(path).catch(() => undefined))?.isDirectory()) throw new ConfigError(`--store ${path}: no such directory`);
    // gc removes files: only in a directory a sweep or worker made a store (it holds the store's identity).
    if (!existsSync(join(path, 'store-id.pack'))) throw new ConfigError(`--store ${path}: not an artifact store (it has no store-id.pack); nothing in it is touched`, { hint: 'give the directory sweeps and workers were given as --store' });
    return { store: openDirStore(path), close: async () => undefined };
  }
  if (queueFlag === undefined && (process.env.CT_QUEUE_URL ?? '') === '') {
    throw new ConfigError('store gc: no store given', { hint: '--store DIR (a shared directory) or --queue nats://HOST:4222 (the queue server\'s object store), or CT_STORE / CT_QUEUE_URL' });
  }
  const url = queueUrl(queueFlag);
  const connection = await connectQueue(url, { name: 'circuit-tuning store gc' });
  try {
    return { store: await openNatsStore(connection, describeQueue(url)), close: () => connection.drain() };
  } catch (error) {
    await connection.close();
    throw error;
  }
}
