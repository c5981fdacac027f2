#!/usr/bin/env bash
# Issue 18's device check on a GPU machine (README, "GPU device check"): x86-64 Linux with no Node
# and no network. Unpacks .gpu-check/gpu-check.tar.xz (made by scripts/gpu-check/pack.sh) into a
# temporary directory, puts the bundled Vulkan/EGL loaders in a private prefix (dpkg -x, then
# LD_LIBRARY_PATH; nothing is written under /), finds the NVIDIA Vulkan ICD, runs the webgpu bench
# (packages/pipeline/bench/gpu-check.bench.ts) and, when `python3 -c 'import torch'` works, the
# PyTorch twin (torch_bench.py) on the same shapes, then prints one table with the ratios and
# writes ${OUT:-./gpu-check-out}/gpu-check.json.
#
#   bash scripts/gpu-check/run.sh [--shape gpt2-small|tiny] [--cpu-results FILE.json] [--bundle FILE]
#        [--warmup N] [--repeats N] [--no-torch] [--limit SECONDS]
#
# For a trial on a machine without a GPU: CT_WEBGPU_ALLOW_SOFTWARE=1 CT_WEBGPU_DAWN_FLAGS=backend=opengles
# with --shape tiny (Mesa's llvmpipe through OpenGL ES; its EGL vendor library must be installed).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bundle="$root/.gpu-check/gpu-check.tar.xz"
shape=gpt2-small
cpu_results=""
warmup=1
repeats=3
torch=1
limit=360 # seconds for each of the two benches: together they fit a 10-minute slot
while [ $# -gt 0 ]; do
  case "$1" in
    --shape) shape="$2"; shift 2 ;;
    --cpu-results) cpu_results="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    --bundle) bundle="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --no-torch) torch=0; shift ;;
    --limit) limit="$2"; shift 2 ;;
    -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -f "$bundle" ] || { echo "run.sh: no bundle at $bundle: run scripts/gpu-check/pack.sh on a machine with Node first" >&2; exit 2; }
[ -z "$cpu_results" ] || [ -f "$cpu_results" ] || { echo "run.sh: no CPU results at $cpu_results" >&2; exit 2; }
out="${OUT:-./gpu-check-out}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== unpacking $(du -h "$bundle" | cut -f1) into $work"
if command -v xz >/dev/null; then
  timeout 600 tar -xJf "$bundle" -C "$work"
else # no xz-utils: Python's lzma reads it
  timeout 600 python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$bundle" "$work"
fi
node="$work/node/bin/node"
export PATH="$work/node/bin:$PATH"

# The loaders, in a private prefix: dpkg -x where dpkg is, else Python reads the deb (an ar archive
# whose data.tar.xz holds the files).
prefix="$work/gl"
mkdir -p "$prefix"
for deb in "$work"/debs/*.deb; do
  if command -v dpkg >/dev/null; then
    timeout 60 dpkg -x "$deb" "$prefix"
  else
    timeout 60 python3 -c '
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"!<arch>\n", "not a deb"
pos = 8
while pos < len(data):
    name, size = data[pos:pos + 16].decode().strip().rstrip("/"), int(data[pos + 48:pos + 58])
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(data[pos + 60:pos + 60 + size]), mode="r:*").extractall(sys.argv[2])
    pos += 60 + size + size % 2
' "$deb" "$prefix"
  fi
done
libs="$prefix/usr/lib/x86_64-linux-gnu"
# The NVIDIA driver's own libraries (the ICD's libGLX_nvidia.so.0, libEGL_nvidia.so.0) where a
# container mounts them.
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && libs="$libs:$d"; done
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

icd_dirs=(/usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d)
icd=""
for d in "${icd_dirs[@]}"; do
  for f in "$d"/nvidia_icd*.json; do
    if [ -f "$f" ]; then icd="$f"; break 2; fi
  done
done
if [ -z "$icd" ]; then
  # No ICD file, but the driver's Vulkan library is there (a container with only some driver
  # capabilities mounted): describe it in our own ICD file.
  for d in /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu /usr/lib64; do
    if [ -e "$d/libGLX_nvidia.so.0" ]; then
      icd="$work/nvidia_icd.json"
      printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.3.0"}}\n' "$d/libGLX_nvidia.so.0" >"$icd"
      break
    fi
  done
fi
if [ -n "$icd" ]; then
  export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd" # VK_ICD_FILENAMES: loaders before 1.3.207
  echo "Vulkan ICD: $icd"
else
  echo "Vulkan ICD: no nvidia_icd*.json in ${icd_dirs[*]} and no libGLX_nvidia.so.0 (the Vulkan loader will look in its default places)"
fi
for f in /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json /usr/share/glvnd/egl_vendor.d/10_nvidia.json; do
  if [ -f "$f" ]; then export __EGL_VENDOR_LIBRARY_FILENAMES="$f"; echo "EGL vendor: $f"; break; fi
done
if command -v nvidia-smi >/dev/null; then timeout 30 nvidia-smi -L || true; else echo "nvidia-smi: not found"; fi

# Kernel times in the profile need the adapter's 'timestamp-query' feature, which Dawn may expose
# only with its unsafe APIs allowed (without it tfjs-backend-webgpu reports 0 ms per kernel).
export CT_WEBGPU_DAWN_FLAGS="${CT_WEBGPU_DAWN_FLAGS:+$CT_WEBGPU_DAWN_FLAGS }enable-dawn-features=allow_unsafe_apis"
echo "Node $("$node" --version) (node on PATH: $(command -v node)); Dawn flags: $CT_WEBGPU_DAWN_FLAGS"

status=0
echo "== webgpu, shape $shape"
rm -f "$out/webgpu.json" "$out/torch.json"
if ! (cd "$work/app" && timeout "$limit" "$node" gpu-check.mjs --backend webgpu --shape "$shape" --warmup "$warmup" --repeats "$repeats" --out "$out/webgpu.json") 2>&1 | tee "$out/webgpu.log"; then
  status=1
  if grep -Eq "asked for webgpu|backend webgpu is not available|WebGPU adapter" "$out/webgpu.log"; then
    echo "run.sh: no usable WebGPU adapter. Tried: Vulkan ICD ${icd:-none found (looked in ${icd_dirs[*]})}, the bundled libvulkan.so.1 in $prefix," \
      "Dawn flags '$CT_WEBGPU_DAWN_FLAGS'${CT_WEBGPU_ALLOW_SOFTWARE:+, software adapters allowed}. The line above says what Dawn found." >&2
  fi
fi

if [ "$torch" = 1 ] && command -v python3 >/dev/null && timeout 120 python3 -c 'import torch' 2>/dev/null; then
  echo "== PyTorch, shape $shape"
  if ! timeout "$limit" python3 "$work/torch/torch_bench.py" --shape "$shape" --warmup "$warmup" --repeats "$repeats" --out "$out/torch.json" 2>&1 | tee "$out/torch.log"; then
    status=1
  fi
else
  echo "== PyTorch: skipped ($([ "$torch" = 1 ] && echo "python3 -c 'import torch' failed" || echo --no-torch))"
fi

environment="$work/environment.json"
GPU="$(timeout 30 nvidia-smi -L 2>/dev/null || true)" ICD="$icd" SHAPE="$shape" "$node" -e '
const e = process.env;
process.stdout.write(JSON.stringify({ shape: e.SHAPE, gpu: e.GPU || null, vulkanIcd: e.ICD || null, dawnFlags: e.CT_WEBGPU_DAWN_FLAGS, node: process.version, date: new Date().toISOString() }));
' >"$environment"
echo "== results"
timeout 60 "$node" "$work/app/report.mjs" --out "$out/gpu-check.json" --environment "$environment" --webgpu "$out/webgpu.json" --torch "$out/torch.json" ${cpu_results:+--cpu "$cpu_results"} | tee "$out/table.md"
echo "written: $out/gpu-check.json (and webgpu.json, torch.json, the logs, table.md)"
exit "$status"
