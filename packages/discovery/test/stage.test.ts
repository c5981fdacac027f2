import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TransformerModel } from '@circuit-tuning/model';
import { parseStageConfig, readArrowTable, type StageReporter, silentReporter, stageId } from '@circuit-tuning/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscoveryEdgesTable, DiscoveryNodesTable, DiscoverySummary, FaithfulnessCurveTable, fromEapIgJson, runDiscovery } from '../src/index';
import { discoverStages, registerDiscoverStages } from '../src/stages';
import { goldenExamples, goldenModel, randomExamples, readGolden, tinyGpt2Dir, writePrompts } from './fixtures';

/**
 * The `discover` slot's conformance suite, run by every variant: config defaults parse, unknown
 * keys fail, it runs on the fixture model, its outputs match the declared schemas, it is
 * deterministic under a seed, and it honours an abort signal.
 */
let dir: string;
let prompts: string;
let model: TransformerModel;
const fast = { curve: { fractions: [0.1, 0.5, 1] }, batchSize: 4 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'discovery-stage-'));
  prompts = join(dir, 'prompts.arrow');
  // The golden pairs plus pairs of other lengths, scored at varied positions.
  const extra = randomExamples({ seed: 3, count: 4, lengths: [5, 11], vocab: 50, lastPos: false }).map((e, i) => ({ ...e, id: 100 + i }));
  await writePrompts(prompts, [...goldenExamples(readGolden()), ...extra]);
  model = await goldenModel();
});
afterAll(async () => {
  model.dispose();
  await rm(dir, { recursive: true, force: true });
});

const run = (variant: string, name: string, config: unknown = fast, options: { seed?: number; signal?: AbortSignal } = {}) =>
  runDiscovery({ variant, modelDir: tinyGpt2Dir, promptsPath: prompts, stageDir: join(dir, name), config, reporter: silentReporter, ...options });

describe('the discover slot', () => {
  it('registers its four variants', () => {
    expect(registerDiscoverStages().variants('discover')).toEqual(['eap', 'eap-ig', 'exact', 'random']);
  });

  for (const [variant, definition] of Object.entries(discoverStages)) {
    describe(`discover:${variant}`, () => {
      it('parses its defaults and rejects unknown keys', () => {
        const config = parseStageConfig(stageId(definition), definition.config, {});
        expect(config).toMatchObject({ graph: 'full', metric: 'logit-diff', ablation: 'corrupted', positions: 'all', selection: { mode: 'top-n' } });
        expect(config.selection.n).toBeUndefined(); // DEFAULT_TOP_N, capped at the graph's edge count
        if (variant === 'eap-ig') expect(config).toMatchObject({ steps: 5 });
        expect(() => parseStageConfig(stageId(definition), definition.config, { selection: { top: 3 } })).toThrow(/selection/);
      });

      it('runs on the fixture model and writes outputs that match their schemas', async () => {
        const result = await run(variant, `${variant}-a`, { ...fast, selection: { n: 30 } }, { seed: 11 });
        expect(result.manifest.status).toBe('succeeded');
        expect(result.manifest.outputs.map((o) => o.port).sort()).toEqual(['circuit', 'curve', 'edges', 'nodes', 'png', 'summary', 'svg']);
        const edges = await readArrowTable(result.outputs.edges!, DiscoveryEdgesTable);
        const graph = model.graph();
        expect(edges.numRows).toBe(graph.edgeCount);
        expect(edges.columns.name).toEqual(graph.edgeNames());
        expect(edges.metadata.producer).toBe(`discover:${variant}@${definition.version}`);
        expect(edges.metadata.extra['ct.discovery.method']).toBe(variant);
        const inCircuit = edges.columns.in_circuit.filter(Boolean).length;
        expect(inCircuit).toBeGreaterThan(0);
        expect(inCircuit).toBeLessThanOrEqual(30);
        expect([...edges.columns.rank].sort((a, b) => a - b)[0]).toBe(1);
        const nodes = await readArrowTable(result.outputs.nodes!, DiscoveryNodesTable);
        expect(nodes.columns.name[0]).toBe('input');
        expect(nodes.columns.name.at(-1)).toBe('logits');
        const curve = await readArrowTable(result.outputs.curve!, FaithfulnessCurveTable);
        expect(Array.from(curve.columns.fraction)).toEqual([0.1, 0.5, 1]);
        expect(curve.columns.faithfulness[2]).toBeCloseTo(1, 3);
        const summary = DiscoverySummary.parse(JSON.parse(await readFile(result.outputs.summary!, 'utf8')));
        expect(summary.examples).toBe(8);
        expect(summary.circuit.edges).toBe(inCircuit);
        // CPR/CMD over the share of edges each curve circuit keeps after pruning (MIB's x), the
        // nominal pair over the requested fractions; both from the curve table's own columns.
        const share = Array.from(curve.columns.edges, (k) => k / summary.edgesTotal);
        const f = Array.from(curve.columns.faithfulness);
        const trapezoids = (x: number[], y: number[]) => x.slice(1).reduce((sum, xi, i) => sum + ((xi - x[i]!) * (y[i]! + y[i + 1]!)) / 2, 0);
        expect(summary.curve!.cpr).toBeCloseTo(trapezoids(share, f), 10);
        expect(summary.curve!.cmd).toBeCloseTo(trapezoids(share, f.map((v) => Math.abs(1 - v))), 10);
        expect(summary.curve!.cprNominal).toBeCloseTo(trapezoids([0.1, 0.5, 1], f), 10);
        // The EAP-IG JSON holds the same scores and circuit.
        const back = fromEapIgJson(graph, JSON.parse(await readFile(result.outputs.circuit!, 'utf8')));
        expect(Array.from(back.keep, Boolean)).toEqual(edges.columns.in_circuit);
        back.scores.forEach((s, e) => {
          expect(s).toBeCloseTo(edges.columns.score[e]!, 5);
        });
        const svg = await readFile(result.outputs.svg!, 'utf8');
        expect(svg).toMatch(/^<svg /);
        expect(svg).toContain('a0.h0');
        const png = await readFile(result.outputs.png!);
        expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      });

      it('is deterministic under a seed', async () => {
        const first = await run(variant, `${variant}-a`, { ...fast, selection: { n: 30 } }, { seed: 11 });
        expect(first.cached).toBe(true);
        const second = await run(variant, `${variant}-b`, { ...fast, selection: { n: 30 } }, { seed: 11 });
        expect(second.cached).toBe(false);
        const hashes = (r: typeof first) => Object.fromEntries(r.manifest.outputs.map((o) => [o.port, o.sha256]));
        expect(hashes(second)).toEqual(hashes(first));
      });

      it('honours an abort signal', async () => {
        const controller = new AbortController();
        controller.abort(new Error('stop now'));
        await expect(run(variant, `${variant}-aborted`, fast, { signal: controller.signal })).rejects.toThrow(/stop now/);
        // Aborted at its first progress report, i.e. inside the scoring or evaluation loop.
        const midway = new AbortController();
        const abortOnProgress: StageReporter = (event) => {
          if (event.type === 'progress') midway.abort(new Error('stopped midway'));
        };
        const started = runDiscovery({
          variant,
          modelDir: tinyGpt2Dir,
          promptsPath: prompts,
          stageDir: join(dir, `${variant}-aborted-later`),
          config: fast,
          signal: midway.signal,
          reporter: abortOnProgress,
        });
        await expect(started).rejects.toThrow(/stopped midway/);
        expect(midway.signal.aborted).toBe(true);
      });
    });
  }

  it('gives different random circuits for different seeds', async () => {
    const a = await run('random', 'random-seed-1', { ...fast, selection: { n: 30 } }, { seed: 1 });
    const b = await run('random', 'random-seed-2', { ...fast, selection: { n: 30 } }, { seed: 2 });
    const sha = (r: typeof a) => r.manifest.outputs.find((o) => o.port === 'edges')!.sha256;
    expect(sha(a)).not.toBe(sha(b));
  });

  it('runs the reference graph, mean ablation, all positions and KL with EAP-IG', async () => {
    const result = await run('eap-ig', 'reference', { ...fast, graph: 'reference', ablation: 'mean', positions: 'all', metric: 'kl', steps: 3, draw: { png: false } });
    const edges = await readArrowTable(result.outputs.edges!, DiscoveryEdgesTable);
    expect(edges.numRows).toBe(model.graph({ includeInputAndLogits: false }).edgeCount);
    expect(edges.columns.writer).not.toContain('input');
    expect(result.manifest.outputs.map((o) => o.port)).not.toContain('png');
  });
});
