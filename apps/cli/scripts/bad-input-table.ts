/**
 * Prints the README's "bad input" table from the cases test/bad-input.test.ts runs
 * (test/bad-input-cases.ts); with --write, replaces the table between the README's markers.
 *
 *   pnpm --filter @circuit-tuning/cli bad-input-table [--write]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { badInputTable, README_END, README_START, readmeSection } from '../test/bad-input-cases';

const readmePath = fileURLToPath(new URL('../../../README.md', import.meta.url));
const table = badInputTable();
if (process.argv.includes('--write')) {
  const readme = readFileSync(readmePath, 'utf8');
  if (readmeSection(readme) === undefined) {
    process.stderr.write(`error: ${readmePath} has no ${README_START} ... ${README_END} section\n`);
    process.exit(3);
  }
  const start = readme.indexOf(README_START) + README_START.length;
  writeFileSync(readmePath, `${readme.slice(0, start)}\n${table}\n${readme.slice(readme.indexOf(README_END))}`);
  process.stderr.write(`wrote the table (${table.split('\n').length - 2} cases) into ${readmePath}\n`);
} else {
  process.stdout.write(`${table}\n`);
}
