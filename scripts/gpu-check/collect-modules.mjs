// Run by pack.sh: copies the packages the bundled bench loads at run time (they stay outside the
// esbuild bundle because the runtime `require`s them through createRequire: tfjs, its backends and
// their dependencies, and the webgpu package) into DEST/node_modules, flattened, with only the
// files they load: the inputs of an esbuild metafile of a CommonJS entry that requires them, each
// package's package.json, tfjs-backend-wasm's .wasm binaries and webgpu's linux-x64 dawn.node.
//
//   node collect-modules.mjs METAFILE.json RESOLVE_DIR DEST
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const [metafile, resolveDir, dest] = process.argv.slice(2);
if (dest === undefined) throw new Error('usage: collect-modules.mjs METAFILE.json RESOLVE_DIR DEST');
const meta = JSON.parse(readFileSync(metafile, 'utf8'));
const copied = new Map(); // destination → source, to catch two versions of one package
const roots = new Map(); // package name → its directory

function copy(source, relative) {
  const target = join(dest, 'node_modules', relative);
  const before = copied.get(target);
  if (before !== undefined && before !== source) throw new Error(`two sources for ${relative}: ${before} and ${source}`);
  if (before !== undefined) return;
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(source, target);
  copied.set(target, source);
}

/** 'node_modules/.pnpm/x/node_modules/@scope/name/dist/f.js' → ['@scope/name', 'dist/f.js']. */
function packageOf(path) {
  const inside = path.split('/node_modules/').at(-1);
  const parts = inside.split('/');
  const nameLength = parts[0].startsWith('@') ? 2 : 1;
  return [parts.slice(0, nameLength).join('/'), parts.slice(nameLength).join('/')];
}

for (const input of Object.keys(meta.inputs)) {
  if (!input.includes('node_modules/')) continue; // the entry itself
  const source = resolve(resolveDir, input);
  const [name, file] = packageOf(input);
  copy(source, join(name, file));
  roots.set(name, source.slice(0, source.length - file.length - 1));
}
for (const [name, root] of roots) copy(join(root, 'package.json'), join(name, 'package.json'));

const wasmRoot = roots.get('@tensorflow/tfjs-backend-wasm');
if (wasmRoot === undefined) throw new Error('the metafile holds no @tensorflow/tfjs-backend-wasm');
for (const f of readdirSync(join(wasmRoot, 'dist')).filter((f) => f.endsWith('.wasm'))) {
  copy(join(wasmRoot, 'dist', f), join('@tensorflow/tfjs-backend-wasm/dist', f));
}

// webgpu (Dawn): an ES module that requires dist/<platform>-<arch>/dawn.node; only linux-x64 travels.
const webgpuRoot = dirname(realpathSync(createRequire(join(resolve(resolveDir), 'package.json')).resolve('webgpu/package.json')));
for (const f of ['package.json', 'index.js', 'dist/linux-x64/dawn.node']) {
  if (!existsSync(join(webgpuRoot, f))) throw new Error(`webgpu has no ${f} in ${webgpuRoot}`);
  copy(join(webgpuRoot, f), join('webgpu', f));
}
process.stdout.write(`${copied.size} files from ${roots.size + 1} packages\n`);
