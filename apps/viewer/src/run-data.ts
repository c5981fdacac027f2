/**
 * What the viewer knows about a run directory: its steps (from pipeline.resolved.json, or the
 * stage directories found when there is none), each step's manifest, and the files a manifest
 * records. Only files a manifest lists as outputs are ever served, and only from inside the run
 * directory (server.ts checks their real paths).
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { ArtifactRecord, StageManifest } from '@circuit-tuning/contracts';
import { isLockLive, readLockOwner, readManifest } from '@circuit-tuning/runtime';
import { INDEX_DIR, isResolvedPipeline, RESOLVED_FILE, type ResolvedPipeline, RUN_LOCK_FILE, RUN_STATUS_FILE, STEP_ID } from '@circuit-tuning/pipeline';

export interface ViewerStep {
  id: string;
  stage: string;
  group?: string;
  item?: string;
  /** From the manifest when there is one; `running` with no live process reads as `interrupted`. */
  status: string;
  manifest?: StageManifest;
}

export interface ViewerRun {
  runDir: string;
  name: string;
  seed: number | undefined;
  status: string;
  pipeline: ResolvedPipeline | undefined;
  steps: ViewerStep[];
}

export async function readRun(runDir: string): Promise<ViewerRun> {
  const dir = resolve(runDir);
  const pipeline = await readJson(join(dir, RESOLVED_FILE)).then((v) => (isResolvedPipeline(v) ? v : undefined));
  const runStatus = (await readJson(join(dir, RUN_STATUS_FILE))) as { status?: string; steps?: { id: string; status: string }[] } | undefined;
  // A killed run leaves its lock behind: it is live only while its process is.
  const owner = await readLockOwner(join(dir, INDEX_DIR, RUN_LOCK_FILE));
  const live = runStatus?.status === 'running' && owner !== 'gone' && (owner === 'unreadable' || isLockLive(owner));
  const ids: { id: string; stage?: string; group?: string; item?: string }[] =
    pipeline?.steps.map((s) => ({ id: s.id, stage: s.stage.id, ...(s.group === undefined ? {} : { group: s.group, item: s.item as string }) })) ??
    readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'manifest.json')))
      .map((e) => ({ id: e.name }))
      .sort((a, b) => a.id.localeCompare(b.id));
  const steps: ViewerStep[] = [];
  // An edited pipeline.resolved.json could name a step '../..': such ids name no directory of the run.
  for (const entry of ids.filter((e) => STEP_ID.test(e.id))) {
    let manifest: StageManifest | undefined;
    try {
      manifest = await readManifest(join(dir, entry.id));
    } catch {
      manifest = undefined;
    }
    const recorded = runStatus?.steps?.find((s) => s.id === entry.id)?.status;
    let status = manifest?.status ?? (recorded === 'cached' ? 'succeeded' : 'pending');
    if (status === 'running' && !live) status = 'interrupted';
    steps.push({
      id: entry.id,
      stage: entry.stage ?? (manifest ? `${manifest.stage.slot}:${manifest.stage.variant}` : '?'),
      ...(entry.group === undefined ? {} : { group: entry.group, item: entry.item as string }),
      status,
      ...(manifest === undefined ? {} : { manifest }),
    });
  }
  return {
    runDir: dir,
    name: pipeline?.name ?? dir.split('/').pop() ?? 'run',
    seed: pipeline?.seed,
    status: runStatus?.status === 'running' && !live ? 'interrupted' : (runStatus?.status ?? 'unknown'),
    pipeline,
    steps,
  };
}

/** An output a step's manifest records, with its absolute path; undefined for anything else. */
export function outputOf(run: ViewerRun, stepId: string, port: string): { record: ArtifactRecord; path: string } | undefined {
  const step = run.steps.find((s) => s.id === stepId);
  const record = step?.manifest?.outputs.find((o) => o.port === port);
  if (record === undefined) return undefined;
  return { record, path: isAbsolute(record.path) ? record.path : join(run.runDir, record.path) };
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}
