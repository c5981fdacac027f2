#!/usr/bin/env node
// Builds the optional OpenBLAS addon at install time. It never fails the install: when something
// is missing it says what and how to add it, and the runtime keeps using the wasm kernels.
//
//   CT_NATIVE=off               skip the build (the runtime then uses wasm alone; CT_NATIVE_BLAS=off, its former name, too)
//   CT_NATIVE_INSTALL_DEPS=no   never install the Debian library, even as root
//   --force                     rebuild even when an addon is already built
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(packageDir, 'build', 'Release', 'ct_native.node');
const DEBIAN_PACKAGE = 'libopenblas0-pthread';
const say = (line) => process.stderr.write(`native: ${line}\n`);

function main() {
  const off = ['CT_NATIVE', 'CT_NATIVE_BLAS'].find((name) => process.env[name] === 'off');
  if (off) return say(`${off}=off: not building; the runtime uses wasm kernels`);
  if (upToDate() && !process.argv.includes('--force')) return ensureLibrary();
  let built = build([]);
  if (!built.ok) {
    // A compiler without OpenMP: build again with the addon's loops on one thread.
    say(`the build with OpenMP failed (${built.why}); building again without it (the addon's own loops then use one thread)`);
    built = build(['--', '-Dopenmp=false']);
  }
  if (!built.ok) {
    say(`the addon did not build (${built.why}); the runtime uses wasm kernels. Retry with: pnpm --filter @circuit-tuning/native build`);
    return;
  }
  say(`built ${addon}`);
  ensureLibrary();
}

/** The addon exists and is newer than its sources. */
function upToDate() {
  if (!existsSync(addon)) return false;
  const built = statSync(addon).mtimeMs;
  const sources = [...readdirSync(join(packageDir, 'native')).map((name) => join('native', name)), 'binding.gyp'];
  return sources.every((source) => statSync(join(packageDir, source)).mtimeMs <= built);
}

function build(extraArgs) {
  let nodeGyp;
  try {
    nodeGyp = createRequire(join(packageDir, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return { ok: false, why: 'node-gyp is not installed' };
  }
  // Node's own headers sit next to its binary (e.g. /usr/include/node); pointing node-gyp there
  // avoids its download of the headers, which fails offline.
  const prefix = dirname(dirname(process.execPath));
  const args = [nodeGyp, 'rebuild', '--loglevel=warn'];
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  args.push(...extraArgs);
  const run = spawnSync(process.execPath, args, { cwd: packageDir, stdio: ['ignore', 'inherit', 'inherit'] });
  if (run.error) return { ok: false, why: run.error.message };
  if (run.status !== 0) return { ok: false, why: `node-gyp exited with ${run.status}` };
  return { ok: existsSync(addon), why: 'node-gyp produced no ct_native.node' };
}

/** The addon opens OpenBLAS at run time; on Debian-like machines, install it when we may. */
function ensureLibrary() {
  if (hasOpenBlas()) return;
  const hint = `install it with: apt-get install -y ${DEBIAN_PACKAGE}`;
  const mayInstall =
    process.env.CT_NATIVE_INSTALL_DEPS !== 'no' && process.getuid?.() === 0 && commandExists('apt-get');
  if (!mayInstall) return say(`OpenBLAS (libopenblas.so.0) is not installed; the runtime uses wasm kernels until you ${hint}`);
  say(`installing ${DEBIAN_PACKAGE} (Debian) for the native matrix kernels; CT_NATIVE_INSTALL_DEPS=no skips this`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', DEBIAN_PACKAGE], { stdio: 'inherit', env });
  if (install().status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    if (install().status !== 0) return say(`could not install ${DEBIAN_PACKAGE}; ${hint}`);
  }
  if (!hasOpenBlas()) say(`${DEBIAN_PACKAGE} installed but libopenblas.so.0 is still not found`);
}

function hasOpenBlas() {
  const ldconfig = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  if (ldconfig.status === 0) return /libopenblas\.so\.0\b/.test(ldconfig.stdout);
  return ['/usr/lib/x86_64-linux-gnu/libopenblas.so.0', '/usr/lib/aarch64-linux-gnu/libopenblas.so.0', '/usr/lib/libopenblas.so.0'].some(existsSync);
}

function commandExists(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

main();
