import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGraph } from '@circuit-tuning/contracts';
import { describe, expect, it } from 'vitest';
import { circuitFromMask } from '../circuit/selection';
import { fromEapIgJson } from './eap-ig-json';
import { mibFolderName, mibSubmission, writeMibSubmission } from './mib';

describe("MIB's circuit submission", () => {
  const graph = buildGraph({ nLayers: 4, nHeads: 4 });
  const scores = Float64Array.from({ length: graph.edgeCount }, (_, e) => Math.sin(e * 1.7) * (1 + (e % 7)));
  const circuit = circuitFromMask(graph, Uint8Array.from({ length: graph.edgeCount }, (_, e) => (e % 5 === 0 ? 1 : 0)), { prune: false });

  it('writes importances as one EAP-IG 2.x JSON in a <task>_<model> folder', async () => {
    const files = mibSubmission(graph, scores, circuit, { task: 'ioi', model: 'gpt2', dModel: 64 });
    expect([...files.keys()]).toEqual(['ioi_gpt2/importances.json']);
    const json = files.get('ioi_gpt2/importances.json')!;
    expect(json.cfg).toEqual({ n_layers: 4, n_heads: 4, d_model: 64, parallel_attn_mlp: false });
    expect(json.nodes.input).toEqual({ in_graph: true });
    const back = fromEapIgJson(graph, JSON.parse(JSON.stringify(json)));
    expect(Array.from(back.scores)).toEqual(Array.from(scores));
    const root = await mkdtemp(join(tmpdir(), 'ct-mib-'));
    const written = await writeMibSubmission(root, files);
    expect(written).toEqual([join(root, 'ioi_gpt2', 'importances.json')]);
    expect(JSON.parse(await readFile(written[0]!, 'utf8'))).toEqual(json);
  });

  it('writes nine circuits of at most 0.1 … 50 % of the edges, each the best-ranked by |score|', async () => {
    const files = mibSubmission(graph, scores, circuit, { task: 'arc-easy', model: 'llama3', dModel: 64, kind: 'circuits' });
    expect([...files.keys()]).toEqual(['0.1', '0.2', '0.5', '1', '2', '5', '10', '20', '50'].map((p) => `arc-easy_llama3/edges-${p}.json`));
    const byAbs = graph.edgeNames().map((name, e) => [name, Math.abs(scores[e]!)] as const);
    byAbs.sort((a, b) => b[1] - a[1]);
    for (const [path, json] of files) {
      const percent = Number(/edges-([\d.]+)\.json$/.exec(path)![1]);
      const kept = Object.entries(json.edges).filter(([, e]) => e.in_graph);
      expect(kept.length).toBe(Math.floor((percent / 100) * graph.edgeCount));
      expect(kept.length / graph.edgeCount).toBeLessThanOrEqual(percent / 100);
      expect(new Set(kept.map(([name]) => name))).toEqual(new Set(byAbs.slice(0, kept.length).map(([name]) => name)));
      // Scores travel too (MIB ranks nothing here, but a reader may).
      expect(json.edges['input->a0.h0<q>']!.score).toBe(scores[0]);
    }
    const root = await mkdtemp(join(tmpdir(), 'ct-mib-'));
    await writeMibSubmission(root, files);
    expect((await readdir(join(root, 'arc-easy_llama3'))).length).toBe(9);
  });

  it('refuses names MIB could not split into task and model, and graphs other than MIB’s', () => {
    expect(mibFolderName('arithmetic-addition', 'qwen2.5')).toBe('arithmetic-addition_qwen2.5');
    expect(() => mibFolderName('sv_disagreement', 'gpt2')).toThrow(/task name "sv_disagreement" must be letters, digits/);
    const reference = buildGraph({ nLayers: 2, nHeads: 2 }, { includeInputAndLogits: false });
    const refCircuit = circuitFromMask(reference, new Uint8Array(reference.edgeCount), { prune: false });
    expect(() => mibSubmission(reference, new Float64Array(reference.edgeCount), refCircuit, { task: 'ioi', model: 'gpt2', dModel: 8 })).toThrow(/no input and logits nodes/);
    for (const [shape, why] of [[{ kvGroups: 1 }, /k\/v readers per kv group/], [{ mlpHeads: 2 }, /MLP heads/]] as const) {
      const graph = buildGraph({ nLayers: 2, nHeads: 2, ...shape });
      const circuit = circuitFromMask(graph, new Uint8Array(graph.edgeCount), { prune: false });
      expect(() => mibSubmission(graph, new Float64Array(graph.edgeCount), circuit, { task: 'ioi', model: 'llama3', dModel: 8 })).toThrow(why);
    }
  });
});
