import { copyFile, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelNodesTable, ModelParametersTable, StageManifest } from '@circuit-tuning/contracts';
import { ensureBackend, readArrowTable, runStage, silentReporter } from '@circuit-tuning/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinyGpt2Dir } from '../../test/shared-data';
import { loadModel } from '../checkpoint/load';
import { loadModelStage } from './load-stage';

beforeAll(() => ensureBackend());

describe('load:hf stage', () => {
  it('writes the model, its parameter and node tables, and a manifest; reruns from cache', async () => {
    const source = await mkdtemp(join(tmpdir(), 'ct-src-'));
    await copyFile(join(tinyGpt2Dir, 'config.json'), join(source, 'config.json'));
    await copyFile(join(tinyGpt2Dir, 'model.safetensors'), join(source, 'model.safetensors'));
    const stageDir = await mkdtemp(join(tmpdir(), 'ct-load-'));
    const options = { stageDir, inputs: { source }, config: { tokenizer: 'optional' }, seed: 0, reporter: silentReporter };
    const first = await runStage(loadModelStage, options);
    expect(first.cached).toBe(false);
    const manifest = StageManifest.parse(first.manifest);
    expect(manifest.status).toBe('succeeded');
    expect(manifest.outputs.map((o) => o.port).sort()).toEqual(['model', 'nodes', 'parameters']);
    const nodes = await readArrowTable(first.outputs.nodes!, ModelNodesTable);
    // 11 writers (input, 8 heads, 2 MLPs) + 24 q/k/v readers + logits; an MLP is listed once.
    expect(nodes.numRows).toBe(36);
    const owned = (name: string) => nodes.columns.parameters[nodes.columns.name.indexOf(name)];
    expect(owned('a0.h0<q>')).toBe(32 * 8 + 8); // its W_Q columns and b_Q slice
    expect(owned('a1.h3')).toBe(8 * 32); // its W_O rows
    expect(owned('input')).toBe(0);
    const params = await readArrowTable(first.outputs.parameters!, ModelParametersTable);
    expect(params.columns.name).toContain('blocks.1.attn.W_Q');
    const reloaded = await loadModel(first.outputs.model!, { tokenizer: 'optional' });
    expect(reloaded.params.count()).toBe(Array.from(params.columns.size).reduce((a, b) => a + b, 0));
    reloaded.dispose();
    const second = await runStage(loadModelStage, options);
    expect(second.cached).toBe(true);
  });

  it('writes the copy as shards with an index above maxShardSize, and refuses a size it cannot read', async () => {
    const stageDir = await mkdtemp(join(tmpdir(), 'ct-load-shards-'));
    const options = { stageDir, inputs: { source: tinyGpt2Dir }, config: { tokenizer: 'optional', maxShardSize: '10KB' }, reporter: silentReporter };
    const run = await runStage(loadModelStage, options);
    const files = await readdir(run.outputs.model!);
    expect(files).toContain('model.safetensors.index.json');
    expect(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
    expect(files).not.toContain('model.safetensors');
    (await loadModel(run.outputs.model!, { tokenizer: 'optional' })).dispose();
    const bad = { ...options, stageDir: await mkdtemp(join(tmpdir(), 'ct-load-shards-')), config: { maxShardSize: '5XB' } };
    await expect(runStage(loadModelStage, bad)).rejects.toThrow(/maxShardSize/);
  });

  it('refuses an unknown config key, naming it', async () => {
    const stageDir = await mkdtemp(join(tmpdir(), 'ct-load-'));
    await expect(
      runStage(loadModelStage, { stageDir, inputs: { source: tinyGpt2Dir }, config: { tokenizr: 'optional' }, reporter: silentReporter }),
    ).rejects.toThrow(/tokenizr/);
  });
});
