/**
 * The runner's link to a shared artifact store (runner.ts's StepStoreHook), so that a worker on
 * any machine reuses a step computed anywhere and a trial resumes on another machine:
 *
 *   before a step   its finished run under `steps/<content key>` is unpacked into the step
 *                   directory (runStage then finds a cache hit, as with --reuse-from); failing
 *                   that, the resumable state another worker left under `partial/<content key>`
 *                   (a trainer's checkpoints) is unpacked, and the stage resumes from it
 *   while it runs   its subdirectories (where a stage keeps resumable state: training's
 *                   run/checkpoints, packages/training/src/stages/common.ts) are snapshotted to
 *                   `partial/<key>` whenever they change
 *   after it ran    its outputs, manifest and log go to `steps/<key>` (the first worker to store
 *                   a key stands: both computed the same bytes) and the partial state is dropped
 *
 * The content key is step-cache.ts's stepContentKey: stage version, config hash, seed, input
 * bytes — exactly what a local cache hit requires. A store that cannot be reached costs the
 * reuse, never the run: every failure here is a warning.
 *
 * For the store's garbage collection (gc.ts) it also says what is in use: with an `owner` (a
 * trial, a coordinator's run) every step it looks up or stores is listed in `refs/<owner>`,
 * rewritten as the list grows; and while a step runs here its lease `leases/<key>` is renewed,
 * so its resumable state is never collected under it.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { MANIFEST_FILE } from '@circuit-tuning/contracts';
import { LOG_FILE, outputFileName, stageDirState } from '@circuit-tuning/runtime';
import type { StepStoreContext, StepStoreHook } from '../runner';
import { ownStepMatches, removeStageDir, stepContentKey } from '../step-cache';
import { type ArtifactStore, getDir, putDir } from './artifact-store';
import { LEASE_RENEW_MS, LEASES_PREFIX, REFS_PREFIX, type StoreReference } from './gc';

export const stepKey = (contentKey: string) => `steps/${contentKey}`;
export const partialKey = (contentKey: string) => `partial/${contentKey}`;
export const leaseKey = (contentKey: string) => `${LEASES_PREFIX}${contentKey}`;

export interface StepSyncOptions {
  /** How often a running step's state is checked for changes (default 1000 ms). */
  snapshotEveryMs?: number;
  warn(message: string): void;
  /** Told what was reused or resumed, for the worker's progress lines. */
  info?(message: string): void;
  /** Who the steps are used by (`<sweep>/<index>`, a run's job id): its reference entry is `refs/<owner>`. */
  owner?: string;
  /** How often a running step's lease is renewed (default gc.ts's LEASE_RENEW_MS). */
  leaseEveryMs?: number;
}

export interface StepSync extends StepStoreHook {
  /** Stops the snapshots of steps still running (after the run ended). */
  flush(): Promise<void>;
  /** The content key a step of this run was looked up under (a step job checks it is the one it was sent for). */
  contentKeyOf(stepId: string): string | undefined;
  /** Lists another store key in the owner's reference (a trial's run directory entry). */
  reference(key: string): Promise<void>;
}

export function stepSync(store: ArtifactStore, options: StepSyncOptions): StepSync {
  const running = new Map<string, { stop(): Promise<void> }>();
  const keys = new Map<string, string>();
  const byStep = new Map<string, string>();
  const keyOf = async (context: StepStoreContext) => {
    const cached = keys.get(context.stageDir);
    if (cached !== undefined) return cached;
    const key = await stepContentKey(context.definition, context.step, context.inputs, context.runDir);
    keys.set(context.stageDir, key);
    byStep.set(context.step.id, key);
    await reference(stepKey(key));
    return key;
  };
  const used = new Set<string>();
  let written: Promise<void> = Promise.resolve();
  /** Adds a key to the owner's reference entry and rewrites it (one write at a time, in order). */
  const reference = async (key: string) => {
    if (options.owner === undefined || used.has(key)) return;
    used.add(key);
    const owner = options.owner;
    const value: StoreReference = { format: 'ct-store-ref/1', owner, keys: [...used].sort(), updatedAt: new Date().toISOString() };
    written = written.then(() =>
      store
        .put(`${REFS_PREFIX}${owner}`, new TextEncoder().encode(JSON.stringify(value)), { replace: true })
        .then(() => undefined)
        .catch((error: Error) => options.warn(`artifact store ${store.description}: the reference of ${owner} not written (${error.message})`)),
    );
    await written;
  };
  return {
    async before(context) {
      try {
        const key = await keyOf(context);
        if (await ownStepMatches(context.definition, context.step, context.inputs, context.runDir)) return undefined;
        if (await store.has(stepKey(key))) {
          await getDir(store, stepKey(key), context.stageDir, { replace: removeStageDir });
          options.info?.(`${context.step.id}: reused from the store (${store.description})`);
          // What run.json records: the entry, not the store's address (addresses stay out of run directories).
          return `artifact store: ${stepKey(key)}`;
        }
        const state = await stageDirState(context.stageDir);
        if ((state === 'absent' || state === 'empty') && (await store.has(partialKey(key)))) {
          if (state === 'empty') await removeStageDir(context.stageDir);
          await getDir(store, partialKey(key), context.stageDir);
          options.info?.(`${context.step.id}: resuming from the state another worker left in the store`);
        }
        running.set(context.stageDir, snapshotter(store, context.stageDir, key, options));
      } catch (error) {
        options.warn(`artifact store ${store.description}: ${context.step.id} not looked up (${(error as Error).message})`);
      }
      return undefined;
    },
    async after(context, outcome) {
      await running.get(context.stageDir)?.stop();
      running.delete(context.stageDir);
      if ('error' in outcome) return;
      try {
        const key = await keyOf(context);
        if (!(await store.has(stepKey(key)))) {
          const definition = context.definition;
          const names = new Set([MANIFEST_FILE, LOG_FILE, ...outcome.manifest.outputs.map((o) => outputFileName(o.port, definition.outputs[o.port] as never))]);
          // An output may be a directory (a model): everything under a kept name travels.
          await putDir(store, stepKey(key), context.stageDir, { include: (path) => names.has(path.split('/')[0] ?? '') });
        }
        await store.remove(partialKey(key));
      } catch (error) {
        options.warn(`artifact store ${store.description}: ${context.step.id} not stored (${(error as Error).message})`);
      }
    },
    async flush() {
      for (const s of running.values()) await s.stop();
      running.clear();
    },
    contentKeyOf: (stepId) => byStep.get(stepId),
    reference,
  };
}

/**
 * Stores a running step's resumable state whenever its subdirectories change. The snapshot is
 * what the directory holds at that moment; a checkpoint caught half-pruned is recognised and
 * skipped by the trainer on resume (its trainer_state.json records every file's size and hash,
 * packages/training/src/loop/checkpoint.ts), and a checkpoint still being written is under a temp
 * name, which never travels.
 */
function snapshotter(store: ArtifactStore, stageDir: string, contentKey: string, options: StepSyncOptions): { stop(): Promise<void> } {
  let last = '';
  let busy: Promise<void> = Promise.resolve();
  const tick = () => {
    busy = busy.then(async () => {
      try {
        const print = await fingerprint(stageDir);
        if (print === '' || print === last) return;
        await putDir(store, partialKey(contentKey), stageDir, { replace: true, include: (path) => path.includes('/') || path === MANIFEST_FILE });
        last = print;
      } catch (error) {
        options.warn(`artifact store ${store.description}: state of ${stageDir} not stored (${(error as Error).message})`);
      }
    });
  };
  // The lease: who runs the step, renewed while it runs (gc.ts leaves its partial state alone).
  const lease = () => {
    busy = busy.then(async () => {
      const holder = { host: hostname(), pid: process.pid, renewedAt: new Date().toISOString() };
      await store.put(leaseKey(contentKey), new TextEncoder().encode(JSON.stringify(holder)), { replace: true }).catch(() => undefined);
    });
  };
  lease();
  const timer = setInterval(tick, options.snapshotEveryMs ?? 1000);
  const leaseTimer = setInterval(lease, options.leaseEveryMs ?? LEASE_RENEW_MS);
  timer.unref();
  leaseTimer.unref();
  return {
    async stop() {
      clearInterval(timer);
      clearInterval(leaseTimer);
      await busy;
      await store.remove(leaseKey(contentKey)).catch(() => undefined);
    },
  };
}

/** Names, sizes and times of everything under the step's subdirectories; '' when it has none. */
async function fingerprint(stageDir: string): Promise<string> {
  const parts: string[] = [];
  let entries: Dirent[];
  try {
    entries = await readdir(stageDir, { withFileTypes: true, recursive: true });
  } catch {
    return '';
  }
  for (const entry of entries) {
    if (!entry.isFile() || entry.parentPath === stageDir) continue;
    const path = `${entry.parentPath}/${entry.name}`;
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined) parts.push(`${path}:${info.size}:${info.mtimeMs}`);
  }
  return parts.sort().join('\n');
}
