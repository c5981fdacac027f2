/**
 * Every file a comment or a document cites exists: a path from the repository root
 * (`packages/training/src/loop/checkpoint.ts`, `docs/method.md`, `fixtures/pipelines/default.yaml`)
 * anywhere in a tracked source or Markdown file (or from the root of the package the file is in),
 * and a path relative to the file in a comment line (as runtime's atomic writer cites its
 * temp-names module). Run by `pnpm test` (`pnpm citations`); exits 1 naming each
 * dangling citation with its file and line.
 *
 *   pnpm citations
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const SOURCES = /\.(ts|mjs|cjs|js|c|h|md|yaml|yml)$/;
const FROM_ROOT = /(?<![\w./-])((?:packages|apps|docs|fixtures|scripts|\.ci)\/[\w.@/-]*[\w-]\.(?:ts|mjs|cjs|js|c|h|md|yaml|yml|json|csv|txt))(?![\w/])/g;
const RELATIVE = /(?<![\w./-])(\.\.?\/[\w.@/-]*[\w-]\.(?:ts|mjs|cjs|js|c|h|md|yaml|json))(?![\w/])/g;
const COMMENT = /^\s*(\/\/|\*|\/\*\*?|#)/;

const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((f) => SOURCES.test(f) && !f.startsWith('fixtures/reference/') && existsSync(join(root, f)));

/** Example names in prose (a user's own file), not citations. */
const EXAMPLES = /(^|\/)(my-variant|file|x)\.[a-z]+$/;
/** The packages: a path may be cited from a package's root (`pnpm --filter @circuit-tuning/model exec tsx scripts/make-checkpoint.ts`). */
const PACKAGE_ROOTS = ['packages', 'apps'].flatMap((dir) => readdirSync(join(root, dir)).map((name) => `${dir}/${name}`)).filter((p) => existsSync(join(root, p, 'package.json')));
const packageRoot = (file: string) => /^((?:packages|apps)\/[^/]+)\//.exec(file)?.[1];

const dangling: string[] = [];
for (const file of files) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const markdown = file.endsWith('.md');
  lines.forEach((line, i) => {
    for (const [, path] of line.matchAll(FROM_ROOT)) {
      // A glob or a placeholder (`packages/X/src/index.ts`) names no one file.
      if (path!.includes('*') || /\/[A-Z]+\//.test(path!) || path!.includes('/X/')) continue;
      const pkg = packageRoot(file);
      const candidates = [root, ...(pkg === undefined ? PACKAGE_ROOTS : [pkg]).map((p) => join(root, p))];
      if (!candidates.some((base) => existsSync(join(base, path!)))) dangling.push(`${file}:${i + 1}: ${path} does not exist`);
    }
    if (!markdown && !COMMENT.test(line)) return;
    for (const [, path] of line.matchAll(RELATIVE)) {
      if (EXAMPLES.test(path!)) continue;
      if (!existsSync(resolve(dirname(join(root, file)), path!))) dangling.push(`${file}:${i + 1}: ${path} does not exist (relative to ${dirname(file)})`);
    }
  });
}

if (dangling.length > 0) {
  process.stderr.write(`${dangling.length} citation(s) of files that do not exist:\n${dangling.map((d) => `  ${d}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`citations: every cited file exists (${files.length} files read)\n`);
