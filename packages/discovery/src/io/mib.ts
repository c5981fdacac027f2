/**
 * MIB's circuit-localization submission (Mueller et al. 2025, "MIB: A Mechanistic Interpretability
 * Benchmark"; the track's README, "Submitting to the MIB Leaderboard"): one folder per task and
 * model, named `<task>_<model>` (`ioi_gpt2`, `arc-easy_llama3`), holding either
 * - `importances`: one JSON file with a floating-point importance score for every edge, or
 * - `circuits`: nine JSON files with binary membership, one circuit of at most each of 0.1, 0.2,
 *   0.5, 1, 2, 5, 10, 20 and 50 % of the model's edges (MIB_FRACTIONS below 1, the budgets of
 *   MIB's CPR/CMD curve).
 * Each file is an EAP-IG circuit JSON in the format EAP-IG 2.x's `Graph.from_json` reads (nodes as
 * `{ in_graph }`), which MIB's evaluation loads. The README fixes the folder name and the file
 * format but not the file names: we write `importances.json` and `edges-<percent>.json`.
 */
import { join } from 'node:path';
import { ContractError, type ModelGraph } from '@circuit-tuning/contracts';
import { writeJsonAtomic } from '@circuit-tuning/runtime';
import { MIB_FRACTIONS } from '../circuit/curve';
import { type Circuit, circuitFromMask, edgeOrder, selectionScores } from '../circuit/selection';
import { type EapIgJson, toEapIgJson } from './eap-ig-json';

export type MibSubmissionKind = 'importances' | 'circuits';

export interface MibSubmissionOptions {
  /** MIB's task name (`ioi`, `mcqa`, `arithmetic-addition`, …) or your own. */
  task: string;
  /** MIB's model name (`gpt2`, `qwen2.5`, `gemma2`, `llama3`) or your own. */
  model: string;
  dModel: number;
  kind?: MibSubmissionKind;
  /** Rank edges by |score| (default, as MIB's CPR) or by the signed score. */
  absolute?: boolean;
}

/** The folder name MIB expects: task and model joined by an underscore, neither containing one. */
export function mibFolderName(task: string, model: string): string {
  for (const [what, name] of [
    ['task', task],
    ['model', model],
  ] as const) {
    if (!/^[A-Za-z0-9.-]+$/.test(name)) {
      throw new ContractError(`MIB submission: the ${what} name ${JSON.stringify(name)} must be letters, digits, '.' and '-' only`, {
        hint: "MIB splits the folder name at '_' into task and model (e.g. arc-easy_llama3)",
      });
    }
  }
  return `${task}_${model}`;
}

/** Files of a submission, by path relative to the submission root, in a fixed order. */
export function mibSubmission(graph: ModelGraph, scores: ArrayLike<number>, circuit: Pick<Circuit, 'keep' | 'nodes'>, options: MibSubmissionOptions): Map<string, EapIgJson> {
  if (!graph.includeInputAndLogits) {
    throw new ContractError('MIB submission: the graph has no input and logits nodes, so edge budgets would not count the edges MIB counts', {
      hint: "discover on the full graph (graph: 'full', the default)",
    });
  }
  if (graph.shape.kvGroups !== undefined || graph.shape.mlpHeads !== undefined) {
    // MIB's graph (EAP-IG's) has a k and a v reader per query head and one node per MLP: edges of
    // a1.g0<k> or m2.n5 are not its edges, and its budgets count its own edges.
    throw new ContractError(`MIB submission: the graph has ${graph.shape.kvGroups !== undefined ? 'k/v readers per kv group' : 'MLP heads'}, which MIB's graph does not`, {
      hint: "discover on MIB's graph: kvReaders: 'heads' (the default) and one node per MLP",
    });
  }
  const folder = mibFolderName(options.task, options.model);
  const files = new Map<string, EapIgJson>();
  const json = (c: Pick<Circuit, 'keep' | 'nodes'>) => toEapIgJson(graph, scores, c, { dModel: options.dModel, nodeFormat: 'object' });
  if ((options.kind ?? 'importances') === 'importances') {
    files.set(join(folder, 'importances.json'), json(circuit));
    return files;
  }
  const order = edgeOrder(selectionScores(graph, scores, { absolute: options.absolute ?? true }));
  for (const fraction of MIB_FRACTIONS.filter((f) => f < 1)) {
    // At most this share of the edges: the best-ranked ones, not pruned (pruning only removes edges).
    const n = Math.floor(fraction * graph.edgeCount);
    const mask = new Uint8Array(graph.edgeCount);
    for (let i = 0; i < n; i++) mask[order[i]!] = 1;
    files.set(join(folder, `edges-${+(fraction * 100).toFixed(4)}.json`), json(circuitFromMask(graph, mask, { prune: false })));
  }
  return files;
}

/** Writes a submission under `root` (each file atomically); returns the paths written. */
export async function writeMibSubmission(root: string, files: Map<string, EapIgJson>): Promise<string[]> {
  const written: string[] = [];
  for (const [relative, json] of files) {
    const path = join(root, relative);
    await writeJsonAtomic(path, json);
    written.push(path);
  }
  return written;
}
