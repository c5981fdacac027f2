/**
 * A researcher's own prompt pairs, end to end through the CLI: a hand-written CSV of 50
 * clean/corrupted pairs in the embedded world's words (fixtures/tasks/pairs-50.csv) →
 * `tasks:import-pairs` with the embedded model's tokenizer → `discover:eap` with corrupted
 * ablation → a circuit → MIB's submission folder (`export:mib`). And the bad files: a malformed CSV and one with no usable row fail with the
 * file, the line and the artifact exit code.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCodeFor, PromptsTable, RejectsTable } from '@circuit-tuning/contracts';
import { DiscoveryEdgesTable, type DiscoverySummary } from '@circuit-tuning/discovery';
import { readArrowTable } from '@circuit-tuning/runtime';
import { runCli } from './cli-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const fixtures = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const pairsCsv = join(fixtures, 'tasks', 'pairs-50.csv');
const model = join(fixtures, 'models', 'default');


const cli = (...args: string[]) => runCli(args);

/** The pipeline a researcher writes for their pairs (paths absolute, so it runs from anywhere). */
function pipeline(source: string): string {
  return `name: my-pairs
seed: 3
steps:
  pairs:
    stage: tasks:import-pairs
    inputs: { source: ${JSON.stringify(source)}, tokenizer: ${JSON.stringify(model)} }
    config: { task: my-agreement }
  load:
    stage: load:hf
    inputs: { source: ${JSON.stringify(model)} }
  discover:
    stage: discover:eap
    inputs: { model: load.model, prompts: pairs.prompts }
    config:
      ablation: corrupted
      positions: all
      selection: { n: 40 }
      curve: { enabled: false }
      draw: { png: false }
  mib:
    stage: export:mib
    inputs: { edges: discover.edges, model: load.model }
    config: { task: my-agreement, model: embedded }
`;
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-import-pairs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tasks:import-pairs through the CLI', () => {
  it('imports 50 hand-written pairs and finds a circuit with corrupted ablation', async () => {
    const file = join(dir, 'pairs.yaml');
    await writeFile(file, pipeline(pairsCsv));
    const runDir = join(dir, 'run');
    const result = await cli('run', file, '--run-dir', runDir, '--json');
    expect(result.code, result.stderr).toBe(0);
    const run = JSON.parse(result.stdout) as { status: string; steps: { id: string; status: string; summary: Record<string, unknown> | null }[] };
    expect(run.status).toBe('succeeded');
    const pairs = run.steps.find((s) => s.id === 'pairs')!;
    expect(pairs.summary).toMatchObject({ rows: 50, accepted: 50, rejected: 0, prompts: 50, format: 'csv' });

    const prompts = await readArrowTable(join(runDir, 'pairs', 'prompts.arrow'), PromptsTable);
    expect(prompts.numRows).toBe(50);
    expect(new Set(prompts.columns.condition)).toEqual(new Set(['attractor', 'simple', 'relative-clause']));
    // Every pair has its corrupted twin, of the clean prompt's length.
    prompts.columns.corrupt_ids.forEach((ids, i) => {
      expect(ids?.length).toBe(prompts.columns.clean_ids[i]!.length);
    });
    expect((await readArrowTable(join(runDir, 'pairs', 'rejects.arrow'), RejectsTable)).numRows).toBe(0);

    const summary = JSON.parse(await readFile(join(runDir, 'discover', 'summary.json'), 'utf8')) as DiscoverySummary;
    expect(summary).toMatchObject({ method: 'eap', ablation: 'corrupted', positions: 'all', examples: 50 });
    expect(summary.circuit.edges).toBeGreaterThan(0);
    expect(summary.circuit.nodes).toBeGreaterThan(1);
    // The clean prompts beat their corruptions on answer vs foil: the metric has something to explain.
    expect(summary.metricFull).toBeGreaterThan(summary.metricEmpty);
    const edges = await readArrowTable(join(runDir, 'discover', 'edges.arrow'), DiscoveryEdgesTable);
    expect(edges.columns.in_circuit.filter(Boolean).length).toBe(summary.circuit.edges);
    // The circuit JSON is in the format current EAP-IG reads.
    const circuit = JSON.parse(await readFile(join(runDir, 'discover', 'circuit.json'), 'utf8')) as { nodes: Record<string, unknown> };
    expect(circuit.nodes.input).toEqual({ in_graph: expect.any(Boolean) });
    // And as MIB's submission folder, with the same scores.
    const mib = JSON.parse(await readFile(join(runDir, 'mib', 'submission', 'my-agreement_embedded', 'importances.json'), 'utf8')) as { edges: Record<string, { score: number }> };
    expect(Object.keys(mib.edges)).toHaveLength(summary.edgesTotal);
    expect(mib.edges[edges.columns.name[0]!]!.score).toBeCloseTo(edges.columns.score[0]!, 6);
  }, 120_000);

  it('fails a malformed CSV and a CSV with no usable row with the file, the line and exit code 5', async () => {
    const malformed = join(dir, 'malformed.csv');
    await writeFile(malformed, 'clean,corrupted,answer,foil\nthe key near the cabinets,the keys near the cabinets,is,are\n"the dog,the dogs,is,are\n');
    const bad = await cli('stage', 'tasks:import-pairs', '--in', `source=${malformed}`, '--in', `tokenizer=${model}`, '--out', join(dir, 'malformed-out'));
    expect(bad.code).toBe(exitCodeFor.artifact);
    expect(bad.stderr).toContain(`${malformed}: line 3: a quoted field is never closed (unterminated quote)`);

    const unusable = join(dir, 'unusable.csv');
    await writeFile(unusable, 'clean,corrupted,answer,foil\nthe key near the cabinets,the keys near the cabinets is,is,are\nthe key,the keys,is are,are\n');
    const none = await cli('stage', 'tasks:import-pairs', '--in', `source=${unusable}`, '--in', `tokenizer=${model}`, '--out', join(dir, 'unusable-out'));
    expect(none.code).toBe(exitCodeFor.artifact);
    expect(none.stderr).toContain(`${unusable}: no usable row: all 2 rows were rejected (1 length-mismatch, 1 multi-token-answer); first, line 2: clean and corrupted prompts differ in length (5 vs 6 tokens)`);
  }, 120_000);
});
