import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGraph } from '@circuit-tuning/contracts';
import { runStage, silentReporter, writeArrowTable } from '@circuit-tuning/runtime';
import { describe, expect, it } from 'vitest';
import { circuitFromMask } from '../src/circuit/selection';
import { fromEapIgJson } from '../src/io/eap-ig-json';
import { edgeColumns } from '../src/io/tables';
import { exportMibStage } from '../src/stage/export-mib-stage';
import { DiscoveryEdgesTable } from '../src/tables';

// The embedded model's config.json: 4 layers, 4 heads, d_model 128 (no weights are read).
const model = fileURLToPath(new URL('../../../fixtures/models/default', import.meta.url));

async function edgesTable(dir: string, graph: ReturnType<typeof buildGraph>, scores: Float64Array): Promise<string> {
  const circuit = circuitFromMask(graph, Uint8Array.from(scores, (s) => (Math.abs(s) > 0.9 ? 1 : 0)), { prune: false });
  const path = join(dir, 'edges.arrow');
  await writeArrowTable(path, DiscoveryEdgesTable, edgeColumns(graph, scores, circuit), { producer: 'test' });
  return path;
}

describe('export:mib', () => {
  const graph = buildGraph({ nLayers: 4, nHeads: 4 });
  const scores = Float64Array.from({ length: graph.edgeCount }, (_, e) => Math.sin(e));

  it("writes a discover step's edge scores as <task>_<model>/importances.json, or nine circuits", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ct-export-mib-'));
    const edges = await edgesTable(dir, graph, scores);
    const result = await runStage(exportMibStage, { stageDir: join(dir, 'stage'), inputs: { edges, model }, config: { task: 'sv-agreement', model: 'embedded' }, reporter: silentReporter });
    const file = join(result.outputs.submission!, 'sv-agreement_embedded', 'importances.json');
    const json = JSON.parse(await readFile(file, 'utf8'));
    expect(json.cfg).toEqual({ n_layers: 4, n_heads: 4, d_model: 128, parallel_attn_mlp: false });
    const back = fromEapIgJson(graph, json);
    expect(Array.from(back.scores)).toEqual(Array.from(Float32Array.from(scores)));
    expect(Array.from(back.keep)).toEqual(Array.from(scores, (s) => (Math.abs(s) > 0.9 ? 1 : 0)));
    expect(result.manifest.summary).toMatchObject({ folder: 'sv-agreement_embedded', kind: 'importances', files: 1, edges: graph.edgeCount });

    const circuits = await runStage(exportMibStage, { stageDir: join(dir, 'circuits'), inputs: { edges, model }, config: { task: 'ioi', model: 'gpt2', kind: 'circuits' }, reporter: silentReporter });
    expect(await readdir(join(circuits.outputs.submission!, 'ioi_gpt2'))).toHaveLength(9);
  });

  it('refuses an edges table of another graph, and a name MIB could not split', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ct-export-mib-'));
    const reference = buildGraph({ nLayers: 4, nHeads: 4 }, { includeInputAndLogits: false });
    const edges = await edgesTable(dir, reference, new Float64Array(reference.edgeCount));
    await expect(runStage(exportMibStage, { stageDir: join(dir, 'a'), inputs: { edges, model }, config: { task: 'ioi', model: 'gpt2' }, reporter: silentReporter })).rejects.toThrow(
      new RegExp(`${reference.edgeCount} edges, not the ${graph.edgeCount} edges of the full graph of a 4-layer, 4-head model`),
    );
    await expect(runStage(exportMibStage, { stageDir: join(dir, 'b'), inputs: { edges, model }, config: { task: 'sv_agreement', model: 'gpt2' }, reporter: silentReporter })).rejects.toThrow(/letters, digits/);
  });
});
