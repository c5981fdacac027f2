/**
 * The one rule for the paths of a run: every directory or file a run writes or deletes lies
 * inside its run directory, checked after `..` and symbolic links are resolved; a run directory
 * that exists and was not made by this tool is refused unless the user allows it; and nothing is
 * deleted that the tool did not make, which it knows by a step's manifest.json
 * (@circuit-tuning/runtime's stageDirState) and a run's `.pipeline/` folder.
 */
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ConfigError } from '@circuit-tuning/contracts';
import { isTempName, stageDirState } from '@circuit-tuning/runtime';
import { RESOLVED_FILE } from './resolve';
import { STEP_ID } from './spec';

/** Where a run keeps its lock and the indexes it writes for collecting steps. */
export const INDEX_DIR = '.pipeline';

/** The run index a collecting step's input port reads. */
export function indexPath(runDir: string, stepId: string, port: string): string {
  return join(runDir, INDEX_DIR, `${stepId}.${port}.json`);
}

/** The files a run writes at its top, besides RESOLVED_FILE, `.pipeline/` and the step directories. */
export const RUN_STATUS_FILE = 'run.json';
export const PIPELINE_COPY = 'pipeline.yaml';
export const RUN_LOG = 'log.jsonl';
const RUN_FILES = [RUN_STATUS_FILE, PIPELINE_COPY, RUN_LOG, RESOLVED_FILE];
/** The lock a running pipeline holds, inside `.pipeline/`. */
export const RUN_LOCK_FILE = 'lock';
/** The command line's name for allowing a run directory the tool did not make. */
export const ALLOW_EXISTING_DIR = '--allow-existing-dir';

/** A path with every symbolic link of its existing part resolved (the rest appended as written). */
export function realPath(path: string): string {
  let head = resolve(path);
  const tail: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(head), ...tail.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return resolve(path);
      tail.push(basename(head));
      head = parent;
    }
  }
}

/** Whether `path` lies strictly inside `root`, both as written and after symbolic links. */
export function isInside(root: string, path: string): boolean {
  const strictlyInside = (r: string, p: string) => {
    const rel = relative(r, p);
    return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
  };
  return strictlyInside(resolve(root), resolve(path)) && strictlyInside(realPath(root), realPath(path));
}

/** Whether two paths overlap: the same place, or one inside the other. */
export function overlaps(a: string, b: string): boolean {
  return realPath(a) === realPath(b) || isInside(a, b) || isInside(b, a);
}

/** `path`, after checking it lies inside the run directory; `what` names it in the error. */
export function assertInsideRun(runDir: string, path: string, what: string): string {
  if (!isInside(runDir, path)) throw new ConfigError(`${what} ${path} would not lie inside the run directory ${runDir}`);
  return path;
}

/** The directory of a step, after checking its id is one path segment that stays in the run. */
export function stepDir(runDir: string, id: string): string {
  if (!STEP_ID.test(id)) throw new ConfigError(`step id ${JSON.stringify(id)} is not valid (ids match ${STEP_ID}): it names a directory of the run ${runDir}`);
  const dir = join(runDir, id);
  if (!isInside(runDir, dir)) {
    throw new ConfigError(`${dir}, the directory of step '${id}', leads out of the run directory (a symbolic link to ${realPath(dir)})`, { hint: 'remove the link, or give another --run-dir' });
  }
  return dir;
}

/**
 * `absent`, `empty`, `run` (made by this tool: it has `.pipeline/`, or holds nothing but what a
 * run writes: its top files and step directories with a stage's manifest.json), or `foreign`
 * (anything else, a plain file included).
 */
export type RunDirState = 'absent' | 'empty' | 'run' | 'foreign';

export async function runDirState(dir: string): Promise<RunDirState> {
  if (!existsSync(dir)) return 'absent';
  if (!statSync(dir).isDirectory()) return 'foreign';
  const entries = readdirSync(dir, { withFileTypes: true });
  if (entries.length === 0) return 'empty';
  if (entries.some((e) => e.name === INDEX_DIR && e.isDirectory())) return 'run';
  for (const entry of entries) {
    if (entry.isFile() && (RUN_FILES.includes(entry.name) || isTempName(entry.name))) continue;
    if (entry.isDirectory() && (await stageDirState(join(dir, entry.name))) === 'stage') continue;
    return 'foreign';
  }
  return 'run';
}

/**
 * Refuses, before anything is written: a run directory the tool did not make (unless allowed, and
 * then only when none of the names the run writes at its top is taken), and any step directory
 * that exists without a stage's manifest.json.
 */
export async function checkRunDir(runDir: string, stepIds: readonly string[], options: { allowExistingDir: boolean }): Promise<void> {
  const state = await runDirState(runDir);
  if (state === 'foreign') {
    if (!options.allowExistingDir) {
      throw new ConfigError(`${runDir} exists and was not made by circuit-tuning (it holds files that no run writes); nothing in it is deleted`, {
        hint: `give a new or empty --run-dir, or pass ${ALLOW_EXISTING_DIR} to write beside its files (none of them is overwritten or deleted)`,
      });
    }
    const taken = RUN_FILES.filter((name) => existsSync(join(runDir, name)));
    if (taken.length > 0) throw new ConfigError(`${runDir}: a run would overwrite ${taken.join(', ')}, which circuit-tuning did not write`, { hint: 'move them away, or give another --run-dir' });
  }
  const foreign: string[] = [];
  for (const id of stepIds) {
    const dir = stepDir(runDir, id);
    if ((await stageDirState(dir)) === 'foreign') foreign.push(dir);
  }
  if (foreign.length > 0) {
    throw new ConfigError(`${foreign.join(', ')} ${foreign.length === 1 ? 'exists' : 'exist'} in the run directory but ${foreign.length === 1 ? 'was' : 'were'} not made by a step (no manifest.json); nothing in ${foreign.length === 1 ? 'it' : 'them'} is deleted`, {
      hint: 'move it away, or give another --run-dir',
    });
  }
}
