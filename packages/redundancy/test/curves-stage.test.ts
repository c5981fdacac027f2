import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CircuitLogTable } from '@circuit-tuning/contracts';
import { runDiscovery } from '@circuit-tuning/discovery';
import { buildGraph } from '@circuit-tuning/contracts';
import { parseStageConfig, readArrowTable, silentReporter, stageId, writeArrowTable } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeFrequencyTable, RedundancyCurveTable, RedundancySummary } from '../src/index';
import { redundancyCurvesStage, registerRedundancyStages, runRedundancyCurves } from '../src/stages';
import { type Fixture, fixture } from './fixtures';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const fast = { grid: { points: 8 }, randomSeeds: [1, 2], refine: { rounds: 1, points: 4 }, steps: 2, split: 'train', batchSize: 8 };

let fx: Fixture;
beforeAll(async () => {
  fx = await fixture();
});
afterAll(async () => {
  await rm(fx.dir, { recursive: true, force: true });
});

const run = (name: string, options: { config?: unknown; seed?: number; prompts?: string; edges?: string; circuitLog?: string; signal?: AbortSignal } = {}) =>
  runRedundancyCurves({
    modelDir: fx.modelDir,
    promptsPath: options.prompts ?? fx.prompts,
    ...(options.edges === undefined ? {} : { edgesPath: options.edges }),
    ...(options.circuitLog === undefined ? {} : { circuitLogPath: options.circuitLog }),
    stageDir: join(fx.dir, name),
    config: options.config ?? fast,
    seed: options.seed ?? 1,
    reporter: silentReporter,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });

describe('redundancy:curves', () => {
  it('registers both redundancy stages and parses its defaults', () => {
    expect(registerRedundancyStages().variants('redundancy')).toEqual(['curves', 'tuning-curve']);
    const config = parseStageConfig(stageId(redundancyCurvesStage), redundancyCurvesStage.config, {});
    expect(config).toMatchObject({ method: 'eap-ig', tau: 0.9, randomSeeds: [1, 2, 3, 4, 5], grid: { points: 16 }, refine: { rounds: 2 } });
    expect(() => parseStageConfig(stageId(redundancyCurvesStage), redundancyCurvesStage.config, { tau: 0.9, grid: { size: 3 } })).toThrow(/grid/);
  });

  it('measures faithfulness in edges and nodes against random rankings, and finds N*', async () => {
    const result = await run('a');
    expect(result.manifest.status).toBe('succeeded');
    expect(result.manifest.outputs.map((o) => o.port).sort()).toEqual(
      ['circuit_png', 'circuit_svg', 'curves', 'edges_png', 'edges_svg', 'frequency_png', 'frequency_svg', 'node_frequency', 'nodes_png', 'nodes_svg', 'summary'].sort(),
    );
    const curves = await readArrowTable(result.outputs.curves!, RedundancyCurveTable);
    const c = curves.columns;
    const rows = Array.from({ length: curves.numRows }, (_, i) => ({
      kind: c.kind[i]!,
      method: c.method[i]!,
      seed: c.seed[i]!,
      size: c.size[i]!,
      kept: c.kind[i] === 'edges' ? c.edges[i]! : c.nodes[i]!,
      f: c.faithfulness[i]!,
      onGrid: c.on_grid[i]!,
    }));
    const trapezoids = (x: number[], y: number[]) => x.slice(1).reduce((sum, xi, i) => sum + ((xi - x[i]!) * (y[i]! + y[i + 1]!)) / 2, 0);
    const summary = RedundancySummary.parse(JSON.parse(await readFile(result.outputs.summary!, 'utf8')));
    expect(summary.edges.total).toBe(110);
    expect(summary.nodes.total).toBe(10);
    for (const kind of ['edges', 'nodes'] as const) {
      const total = summary[kind].total;
      for (const seed of [-1, 1, 2]) {
        const curve = rows.filter((r) => r.kind === kind && r.seed === seed && r.onGrid);
        expect(curve.map((r) => r.method)[0]).toBe(seed === -1 ? 'eap-ig' : 'random');
        // The whole graph is the full model.
        expect(curve.at(-1)!.size).toBe(total);
        expect(curve.at(-1)!.f).toBeCloseTo(1, 4);
      }
      const own = rows.filter((r) => r.kind === kind && r.seed === -1);
      const reaching = own.filter((r) => r.f >= 0.9).map((r) => r.size);
      expect(summary[kind].nStar).toBe(Math.min(...reaching));
      expect(summary[kind].ratio).toBeCloseTo(1 - summary[kind].nStar! / total, 12);
      // CPR/CMD over the grid, x = the share kept after pruning (MIB's x), not N / total.
      const grid = own.filter((r) => r.onGrid);
      const share = grid.map((r) => r.kept / total);
      expect(summary[kind].cpr).toBeCloseTo(trapezoids(share, grid.map((r) => r.f)), 10);
      expect(summary[kind].cmd).toBeCloseTo(trapezoids(share, grid.map((r) => Math.abs(1 - r.f))), 10);
      // Refined sizes lie between grid points, below N*'s grid point.
      for (const r of own.filter((x) => !x.onGrid)) expect(r.size).toBeLessThan(Math.min(...own.filter((x) => x.onGrid && x.f >= 0.9).map((x) => x.size)));
    }
    expect(summary.method).toBe('eap-ig');
    expect(summary.nStarNodes.length).toBeGreaterThan(0);

    const nodes = await readArrowTable(result.outputs.node_frequency!, NodeFrequencyTable);
    expect(nodes.columns.name).toEqual(['input', 'a0.h0', 'a0.h1', 'a0.h2', 'a0.h3', 'm0', 'a1.h0', 'a1.h1', 'a1.h2', 'a1.h3', 'm1', 'logits']);
    expect([...nodes.columns.rank].filter((r) => r > 0).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(nodes.columns.size_frequency.every((f) => f >= 0 && f <= 1)).toBe(true);
    expect(nodes.columns.step_frequency.every((f) => f === null)).toBe(true);

    expect(await readFile(result.outputs.edges_svg!, 'utf8')).toContain('(log scale)');
    for (const port of ['edges_png', 'nodes_png', 'frequency_png', 'circuit_png']) {
      expect(Array.from((await readFile(result.outputs[port]!)).subarray(0, 8))).toEqual(PNG_MAGIC);
    }
  });

  it('is reused when nothing changed, deterministic under a seed, and honours an abort signal', async () => {
    const first = await run('a');
    expect(first.cached).toBe(true);
    const second = await run('b');
    expect(second.cached).toBe(false);
    const hashes = (r: typeof first) => Object.fromEntries(r.manifest.outputs.filter((o) => !o.port.endsWith('png')).map((o) => [o.port, o.sha256]));
    expect(hashes(second)).toEqual(hashes(first));
    const controller = new AbortController();
    controller.abort(new Error('stop now'));
    await expect(run('aborted', { signal: controller.signal })).rejects.toThrow(/stop now/);
  });

  it('refuses inputs of the wrong schema with the file and the expected table named', async () => {
    await expect(run('wrong-prompts', { prompts: fx.texts })).rejects.toThrow(/holds table 'ct\.texts' but 'ct\.prompts' was expected/);
    await expect(run('wrong-edges', { edges: fx.prompts })).rejects.toThrow(/holds table 'ct\.prompts' but 'ct\.discovery\.edges' was expected/);
    await expect(run('wrong-log', { circuitLog: fx.texts })).rejects.toThrow(/holds table 'ct\.texts' but 'ct\.train\.circuit' was expected/);
  });

  it("reuses a discovery run's scores and reads a circuit log for the per-step view", async () => {
    const discovery = await runDiscovery({
      variant: 'eap',
      modelDir: fx.modelDir,
      promptsPath: fx.prompts,
      stageDir: join(fx.dir, 'discovery'),
      config: { curve: { enabled: false }, draw: { svg: false, png: false }, selection: { n: 20 }, split: 'train' },
      reporter: silentReporter,
    });
    const edges = buildGraph({ nLayers: 2, nHeads: 4 }).edgeNames();
    const log = join(fx.dir, 'circuit-log.arrow');
    const logged = [
      [0, 'input->a0.h1<q>'],
      [0, 'a0.h1->logits'],
      [10, 'input->m1'],
      [10, 'm1->logits'],
    ] as const;
    expect(logged.every(([, e]) => edges.includes(e))).toBe(true);
    await writeArrowTable(
      log,
      CircuitLogTable,
      { step: Int32Array.from(logged, (r) => r[0]), edge: logged.map((r) => r[1]), score: Float32Array.from(logged, () => 1), rank: Int32Array.from(logged, (_, i) => i + 1) },
      { producer: 'test' },
    );
    const config = { ...fast, randomSeeds: [], refine: { rounds: 0 }, draw: { png: false } };
    const result = await run('from-edges', { edges: discovery.outputs.edges!, circuitLog: log, config });
    const summary = RedundancySummary.parse(JSON.parse(await readFile(result.outputs.summary!, 'utf8')));
    expect(summary.method).toBe('eap');
    expect(summary.circuitLogSteps).toBe(2);
    expect(summary.edges.random.nStar).toBeNull();
    const nodes = await readArrowTable(result.outputs.node_frequency!, NodeFrequencyTable);
    const stepShare = Object.fromEntries(nodes.columns.name.map((n, i) => [n, nodes.columns.step_frequency[i]]));
    expect(stepShare).toMatchObject({ input: 1, logits: 1, 'a0.h1': 0.5, m1: 0.5, 'a1.h3': 0 });
    expect(result.manifest.outputs.map((o) => o.port)).not.toContain('edges_png');

    // A log of another model is refused before any work.
    await writeArrowTable(log, CircuitLogTable, { step: Int32Array.of(0), edge: ['a5.h0->logits'], score: Float32Array.of(1), rank: Int32Array.of(1) }, { producer: 'test' });
    await expect(run('other-log', { edges: discovery.outputs.edges!, circuitLog: log, config })).rejects.toThrow(/'a5\.h0->logits' is not an edge of this model's graph/);
    // An edges table of the other graph: the hint says which graph to set.
    await expect(run('other-graph', { edges: discovery.outputs.edges!, config: { ...config, graph: 'reference' } })).rejects.toThrow(/edges, but the model's reference graph has/);
  });
});
