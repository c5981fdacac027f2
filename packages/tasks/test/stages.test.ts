import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PromptsTable, RejectsTable, StageManifest, TextsTable } from '@circuit-tuning/contracts';
import { loadTokenizer } from '@circuit-tuning/model';
import { readArrowTable, runStage, sha256File, silentReporter } from '@circuit-tuning/runtime';
import { describe, expect, it } from 'vitest';
import { generateTaskSuite } from '../src/datasets/suite';
import { generateTasksStage } from '../src/stage/generate-stage';
import { importPairsStage, importSubjectVerbStage, importWinoBiasStage } from '../src/stage/import-stages';
import { tempDir, WINOBIAS_ANTI, WINOBIAS_PRO, wordTokenizerFor, writeJsonl } from './support';

const config = {
  corpus: { tokens: 20_000, devDocuments: 50 },
  sizes: {
    svAgreement: { train: 60, dev: 30, test: 30 },
    svDisagreementTrain: { train: 30, dev: 10, test: 10 },
    genderBiasEval: { train: 50, dev: 50, test: 50 },
    genderBiasTrain: { train: 40, dev: 10, test: 10 },
    ioi: { train: 40, dev: 20, test: 20 },
    generalText: { train: 20, dev: 10, test: 10 },
  },
};

const ARROW_PORTS = ['corpus_train', 'sv_agreement', 'sv_disagreement', 'sv_disagreement_train', 'gender_bias_eval', 'gender_bias_train', 'ioi', 'general_text'];

async function generate(seed: number) {
  const stageDir = await tempDir('ct-generate-');
  const result = await runStage(generateTasksStage, { stageDir, config, seed, reporter: silentReporter });
  const hashes: Record<string, string> = {};
  for (const port of ARROW_PORTS) hashes[port] = await sha256File(result.outputs[port as keyof typeof result.outputs]!);
  return { result, hashes };
}

describe('tasks:generate', () => {
  it('writes byte-identical files for the same seed and different ones for another seed', async () => {
    const a = await generate(5);
    const b = await generate(5);
    const c = await generate(6);
    expect(Object.keys(a.hashes).sort()).toEqual([...ARROW_PORTS].sort());
    expect(b.hashes).toEqual(a.hashes);
    for (const port of ARROW_PORTS) expect(c.hashes[port], port).not.toBe(a.hashes[port]);
    // The manifest records the same output hashes, the tokenizer tree included (ids do not depend on the seed).
    const sha = (r: typeof a.result, port: string) => r.manifest.outputs.find((o) => o.port === port)!.sha256;
    expect(sha(b.result, 'tokenizer')).toBe(sha(a.result, 'tokenizer'));
    expect(sha(c.result, 'tokenizer')).toBe(sha(a.result, 'tokenizer'));
    expect(StageManifest.parse(a.result.manifest).status).toBe('succeeded');
  });

  it('writes what generateTaskSuite returns, with the run seed as the world seed, and a loadable tokenizer', async () => {
    const { result } = await generate(3);
    const suite = generateTaskSuite({ ...config, world: { seed: 3 } });
    const sv = await readArrowTable(result.outputs.sv_agreement!, PromptsTable);
    expect(sv.metadata.producer).toBe('tasks:generate@1');
    expect(sv.columns.clean_text).toEqual(suite.svAgreement!.clean_text);
    expect(sv.columns.clean_ids).toEqual(suite.svAgreement!.clean_ids);
    expect(sv.columns.pos).toEqual(suite.svAgreement!.pos);
    const corpus = await readArrowTable(result.outputs.corpus_train!, TextsTable);
    expect(corpus.columns.ids).toEqual(suite.corpus.ids);
    const tokenizer = await loadTokenizer(result.outputs.tokenizer!);
    expect(tokenizer.vocabSize).toBe(suite.world.tokenizer.vocabSize);
    expect(tokenizer.bosTokenId).toBe(2);
    expect(tokenizer.encode(sv.columns.clean_text[0]!)).toEqual(sv.columns.clean_ids[0]!.slice(1));
    const world = JSON.parse(await readFile(result.outputs.world!, 'utf8')) as { vocabularySize: number; occupations: { word: string; stereotype: string }[] };
    expect(world.vocabularySize).toBe(tokenizer.vocabSize);
    expect(world.occupations).toContainEqual({ word: 'nurse', stereotype: 'female' });
    expect(result.manifest.summary).toMatchObject({ vocabularySize: tokenizer.vocabSize, sv_agreement: 120 });
  });

  it('writes only the chosen tasks, and takes the seed from the run, not the config', async () => {
    const stageDir = await tempDir('ct-generate-');
    const result = await runStage(generateTasksStage, { stageDir, config: { ...config, tasks: ['ioi'] }, reporter: silentReporter });
    expect(result.manifest.outputs.map((o) => o.port).sort()).toEqual(['corpus_train', 'ioi', 'tokenizer', 'world']);
    await expect(runStage(generateTasksStage, { stageDir, config: { world: { seed: 1 } }, reporter: silentReporter })).rejects.toThrow(/seed/);
  });
});

describe('import stages', () => {
  it('tasks:import-sv writes prompts and texts', async () => {
    const dir = await tempDir();
    const clean = 'the key to the cabinets is red .';
    const corr = 'the key to the cabinets are red .';
    const tokenizer = wordTokenizerFor([clean, corr]);
    const tokenizerDir = join(dir, 'tok');
    await mkdir(tokenizerDir);
    await tokenizer.save(tokenizerDir);
    const ids = tokenizer.encode(clean);
    const source = await writeJsonl(dir, 'sv.jsonl', [
      { clean_text: clean, corr_text: corr, clean_verb_pos: [5], corr_verb_pos: [5], clean_verb_ids: [ids[5]], corr_verb_ids: [tokenizer.encode(corr)[5]], clean_verbs: ['is'], corr_verbs: ['are'] },
      '{"clean_text": "the key"',
    ]);
    const result = await runStage(importSubjectVerbStage, { stageDir: join(dir, 'stage'), inputs: { source, tokenizer: tokenizerDir }, reporter: silentReporter });
    const prompts = await readArrowTable(result.outputs.prompts!, PromptsTable);
    expect(prompts.columns.clean_text).toEqual(['the key to the cabinets']);
    expect(tokenizer.decode([prompts.columns.answer[0]!])).toBe('are');
    const texts = await readArrowTable(result.outputs.texts!, TextsTable);
    expect(texts.columns.target_positions).toEqual([[5]]);
    expect(result.manifest.summary).toMatchObject({ rows: 2, accepted: 1, rejected: 1, salvaged: 0, rejectReasons: { 'invalid-json': 1 }, prompts: 1, positions: 'file' });
    const rejects = await readArrowTable(result.outputs.rejects!, RejectsTable);
    expect(rejects.columns.line).toEqual(Int32Array.from([2]));
    expect(rejects.columns.raw).toEqual(['{"clean_text": "the key"']);
    // The log says which line was refused and why.
    const log = await readFile(join(dir, 'stage', 'log.jsonl'), 'utf8');
    expect(log).toMatch(/sv\.jsonl:2: rejected \(invalid-json\): not valid JSON/);
  });

  it('tasks:import-pairs writes the accepted pairs as prompts and the refused ones as rejects', async () => {
    const dir = await tempDir();
    const tokenizer = wordTokenizerFor(['the key to the cabinets is are the keys to the cabinet']);
    const tokenizerDir = join(dir, 'tok');
    await mkdir(tokenizerDir);
    await tokenizer.save(tokenizerDir);
    const source = join(dir, 'pairs.csv');
    await writeFile(source, 'clean,corrupted,answer,foil\nthe key to the cabinets,the keys to the cabinet,is,are\nthe key,the keys to,is,are\n');
    const result = await runStage(importPairsStage, { stageDir: join(dir, 'stage'), inputs: { source, tokenizer: tokenizerDir }, config: { task: 'agreement' }, reporter: silentReporter });
    const prompts = await readArrowTable(result.outputs.prompts!, PromptsTable);
    expect(prompts.columns.task).toEqual(['agreement']);
    expect(prompts.columns.corrupt_ids[0]).toEqual([tokenizer.bosTokenId, ...tokenizer.encode('the keys to the cabinet')]);
    expect(prompts.metadata.producer).toBe('tasks:import-pairs@1');
    const rejects = await readArrowTable(result.outputs.rejects!, RejectsTable);
    expect(rejects.columns.reason).toEqual(['length-mismatch']);
    expect(Array.from(rejects.columns.row)).toEqual([2]);
    expect(result.manifest.summary).toMatchObject({ rows: 2, accepted: 1, rejected: 1, rejectReasons: { 'length-mismatch': 1 }, prompts: 1, format: 'csv' });
    // A file with no usable row fails the stage with the file's name.
    await writeFile(source, 'clean,corrupted,answer,foil\nthe key,the keys to,is,are\n');
    await expect(runStage(importPairsStage, { stageDir: join(dir, 'stage2'), inputs: { source, tokenizer: tokenizerDir }, reporter: silentReporter })).rejects.toThrow(/pairs\.csv: no usable row/);
  });

  it('tasks:import-winobias writes both files as one prompts table', async () => {
    const dir = await tempDir();
    const sentences = (await Promise.all([WINOBIAS_PRO, WINOBIAS_ANTI].map((f) => readFile(f, 'utf8'))))
      .flatMap((t) => t.split('\n'))
      .filter((l) => l.trim() !== '')
      .map((l) => (JSON.parse(l) as { sentence: string }).sentence);
    const tokenizerDir = join(dir, 'tok');
    await mkdir(tokenizerDir);
    await wordTokenizerFor([...sentences, 'him his he']).save(tokenizerDir);
    const result = await runStage(importWinoBiasStage, { stageDir: join(dir, 'stage'), inputs: { pro: WINOBIAS_PRO, anti: WINOBIAS_ANTI, tokenizer: tokenizerDir }, reporter: silentReporter });
    const prompts = await readArrowTable(result.outputs.prompts!, PromptsTable);
    expect(prompts.numRows).toBe(792);
    expect(new Set(prompts.columns.condition)).toEqual(new Set(['pro', 'anti']));
    expect(result.manifest.summary).toMatchObject({ rows: 792, accepted: 792, rejected: 0, rejectReasons: {}, prompts: 792, occupations: 40 });
    expect((await readArrowTable(result.outputs.rejects!, RejectsTable)).numRows).toBe(0);
  });
});
