/**
 * How long the CLI takes to answer, as the README calls it (`pnpm exec ct …` from the repository
 * root) and as its bin called directly: `--help`, a stage's help (which loads every stage
 * package) and an unknown command. The goal for `--help` is under 1.5 s (issue 16); the median of
 * `--runs` runs is compared with it. Results: bench-results/cli-startup.json.
 *
 *   pnpm --filter @circuit-tuning/cli bench [-- --runs 7]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = fileURLToPath(new URL('../bin/circuit-tuning.mjs', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Math.max(1, Number(values.runs));
const GOAL_SECONDS = 1.5;

const cases: { name: string; command: string; args: string[]; code: number }[] = [
  { name: 'pnpm exec ct --help', command: 'pnpm', args: ['exec', 'ct', '--help'], code: 0 },
  { name: 'bin --help', command: process.execPath, args: [bin, '--help'], code: 0 },
  { name: 'pnpm exec ct stage discover:eap --help', command: 'pnpm', args: ['exec', 'ct', 'stage', 'discover:eap', '--help'], code: 0 },
  { name: 'pnpm exec ct nosuchcommand', command: 'pnpm', args: ['exec', 'ct', 'nosuchcommand'], code: 2 },
];

const results = cases.map((c) => {
  const seconds: number[] = [];
  // One untimed run first: tsx compiles into its cache once.
  for (let i = 0; i <= runs; i++) {
    const started = performance.now();
    const result = spawnSync(c.command, c.args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
    if (result.status !== c.code) throw new Error(`${c.name}: exit ${result.status}, expected ${c.code}\n${result.stderr}`);
    if (i > 0) seconds.push((performance.now() - started) / 1000);
  }
  seconds.sort((a, b) => a - b);
  const median = seconds[Math.floor(seconds.length / 2)]!;
  return { name: c.name, median, min: seconds[0]!, max: seconds.at(-1)!, runs };
});

for (const r of results) console.log(`${r.name.padEnd(42)} median ${r.median.toFixed(2)} s  (min ${r.min.toFixed(2)}, max ${r.max.toFixed(2)}, ${r.runs} runs)`);
const help = results[0]!;
console.log(`goal: --help under ${GOAL_SECONDS} s → ${help.median < GOAL_SECONDS ? 'met' : 'NOT met'} (${help.median.toFixed(2)} s)`);
mkdirSync(join(root, 'bench-results'), { recursive: true });
writeFileSync(join(root, 'bench-results', 'cli-startup.json'), `${JSON.stringify({ goalSeconds: GOAL_SECONDS, results }, null, 2)}\n`);
