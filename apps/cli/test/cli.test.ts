import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tinyModelDir } from '../src/fixtures';

const require = createRequire(import.meta.url);
const tsx = require.resolve('tsx/cli');
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** Runs the real CLI in a child process, as a user would. */
function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [tsx, main, ...args], { encoding: 'utf8', env: { ...process.env, CT_BACKEND: 'wasm' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** The CLI as the README calls it: `pnpm exec ct …` from the repository root (the bin, not a pnpm script). */
function readmeCli(cwd: string, ...args: string[]) {
  // A user's shell: no node_modules/.bin on the PATH (vitest started by pnpm has the workspace's).
  const PATH = (process.env.PATH ?? '').split(':').filter((p) => !p.includes('node_modules')).join(':');
  const result = spawnSync('pnpm', ['exec', 'ct', ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, PATH, CT_BACKEND: 'wasm' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the README\'s way of calling the CLI', () => {
  it('keeps the exit codes: 2 for an unknown command, 3 for a typo in a pipeline file, 0 for help', async () => {
    const unknown = readmeCli(repoRoot, 'nosuchcommand');
    expect(unknown.code, unknown.stderr).toBe(2);
    expect(unknown.stderr).toMatch(/error: unknown command 'nosuchcommand'/);
    expect(unknown.stderr).not.toMatch(/ELIFECYCLE|ERR_PNPM/);
    const dir = await mkdtemp(join(tmpdir(), 'ct-readme-cli-'));
    try {
      await writeFile(join(dir, 'typo.yaml'), 'sed: 1\nsteps: {}\n');
      // A path relative to where the user stands (the repository root).
      const typo = readmeCli(repoRoot, 'run', relative(repoRoot, join(dir, 'typo.yaml')), '--run-dir', join(dir, 'run'));
      expect(typo.code, typo.stderr).toBe(3);
      expect(typo.stderr).toMatch(/typo\.yaml:1:1: unknown key 'sed'/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(readmeCli(repoRoot, '--help').code).toBe(0);
  });
});

describe('circuit-tuning CLI', () => {
  it('inspect --json prints one JSON document with tokens, top-k, all logits and node norms', () => {
    const { code, stdout, stderr } = cli('inspect', tinyModelDir, 'the keys to the cabinet', '--json', '--top-k', '3');
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as {
      tokens: { id: number; token: string }[];
      topK: { id: number; logit: number; probability: number }[];
      logits: number[];
      nodeNorms: Record<string, number>;
      backend: { name: string };
    };
    expect(report.tokens.map((t) => t.token)).toEqual(['the', 'keys', 'to', 'the', 'cabinet']);
    expect(report.topK).toHaveLength(3);
    expect(report.logits).toHaveLength(43);
    expect(report.logits[report.topK[0]!.id]).toBe(report.topK[0]!.logit);
    expect(Math.fround(report.logits[5]!)).toBe(report.logits[5]); // float32 values, exactly
    expect(Object.keys(report.nodeNorms)).toEqual(['input', 'a0.h0', 'a0.h1', 'a0.h2', 'a0.h3', 'm0', 'a1.h0', 'a1.h1', 'a1.h2', 'a1.h3', 'm1']);
    expect(report.backend.name).toBe('wasm');
    expect(stderr).toMatch(/backend: wasm/);
  });

  it('inspect prints a readable report', () => {
    const { code, stdout } = cli('inspect', tinyModelDir, 'the key');
    expect(code).toBe(0);
    expect(stdout).toMatch(/next token\s+logit\s+prob/);
    expect(stdout).toMatch(/a1\.h3/);
  });

  it('demo generates from the embedded model', () => {
    const { code, stdout, stderr } = cli('demo', '--tokens', '3');
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/generation: \S+/);
  });

  it('fails clearly on a bad model directory, an unknown command or a bad option', () => {
    const missing = cli('inspect', '/nonexistent/model', 'hi');
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/error: \/nonexistent\/model: model directory does not exist/);
    const unknown = cli('discover-everything');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'discover-everything'\nvalid commands: demo, inspect/);
    const badOption = cli('inspect', tinyModelDir, 'x', '--topk', '3');
    expect(badOption.code).toBe(3);
    expect(badOption.stderr).toMatch(/Unknown option '--topk'/);
    const badBackend = cli('inspect', tinyModelDir, 'x', '--backend', 'cuda');
    expect(badBackend.stderr).toMatch(/unknown backend 'cuda'/);
  });

  it('has help for every command', () => {
    expect(cli('--help').stdout).toMatch(/commands:\n {2}demo/);
    expect(cli('inspect', '--help').stdout).toMatch(/usage: circuit-tuning inspect MODEL_DIR TEXT/);
    // `stage X --help` (as the README writes it) is X's own help: its ports and config, like `X --help`.
    const stageHelp = cli('stage', 'discover:eap', '--help').stdout;
    expect(stageHelp).toMatch(/usage: circuit-tuning discover:eap /);
    expect(stageHelp).toMatch(/inputs:\n {2}model/);
    expect(stageHelp).toMatch(/selection\.n/);
    expect(stageHelp).toBe(cli('discover:eap', '--help').stdout);
    expect(cli('stage', '--help').stdout).toMatch(/usage: circuit-tuning stage SLOT:VARIANT/);
  });
});
