/**
 * How many names each package exports (its src/index.ts, with `export *` followed; plus
 * src/stages.ts where a package has one), and how many of them no other package, app, test or
 * bench mentions. `tsx scripts/count-exports.ts [ROOT]` prints a Markdown table; ROOT defaults to
 * the repository this script is in (give an exported copy of an older commit to compare);
 * `--list` names the unused ones.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
const list = args.includes('--list');
const root = args.find((a) => !a.startsWith('--')) ?? join(import.meta.dirname, '..');
const dirs = ['packages', 'apps'].flatMap((top) => {
  try {
    return readdirSync(join(root, top)).map((name) => join(root, top, name));
  } catch {
    return [];
  }
});
const entries = dirs.flatMap((dir) => ['src/index.ts', 'src/stages.ts'].map((f) => join(dir, f)).filter((f) => exists(f)));
const program = ts.createProgram(entries, { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, target: ts.ScriptTarget.ES2022, allowJs: false, noEmit: true });
const checker = program.getTypeChecker();

/** Every .ts/.mjs file of the repository outside node_modules, by package directory. */
function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|mjs)$/.test(name)) out.push(path);
  }
  return out;
}
const allFiles = dirs.flatMap((dir) => sources(dir).map((file) => ({ dir, text: readFileSync(file, 'utf8') })));

console.log('| package | exported names | used by no other package |');
console.log('| --- | ---: | ---: |');
let total = 0;
let unusedTotal = 0;
for (const dir of dirs) {
  const names = new Set<string>();
  for (const entry of entries.filter((e) => e.startsWith(`${dir}/`))) {
    const source = program.getSourceFile(entry);
    const symbol = source && checker.getSymbolAtLocation(source);
    if (symbol) for (const exported of checker.getExportsOfModule(symbol)) names.add(exported.getName());
  }
  if (names.size === 0) continue;
  const others = allFiles.filter((f) => f.dir !== dir).map((f) => f.text);
  const unused = [...names].filter((name) => !others.some((text) => new RegExp(`\\b${name}\\b`).test(text)));
  total += names.size;
  unusedTotal += unused.length;
  console.log(`| ${relative(root, dir)} | ${names.size} | ${unused.length} |`);
  if (list && unused.length > 0) console.log(`|   | unused: ${unused.join(', ')} | |`);
}
console.log(`| all | ${total} | ${unusedTotal} |`);

function exists(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
