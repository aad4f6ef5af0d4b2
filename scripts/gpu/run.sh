#!/usr/bin/env bash
# Runs on the GPU machine from the repository root, with .gpu/ prepared by scripts/gpu/prepare.sh:
# the conformance suite on WebGPU with both kernel sets, then PyramidNet-110 alpha 48 at batch 128
# on WebGPU (project and stock kernels) and on PyTorch in the same call, so that the figures are
# ratios on one card. Writes its reports to $OUT (default .gpu/out).
# Usage: .gpu/run.sh [depth alpha batch]
set -uo pipefail
cd "$(dirname "$0")/.."
depth="${1:-110}" alpha="${2:-48}" batch="${3:-128}"
out="${OUT:-.gpu/out}"
mkdir -p "$out" /tmp/pyramid-node

if ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in .gpu/deb/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done
  ldconfig
fi
[ -x /tmp/pyramid-node/node ] || { xz -dc .gpu/node.xz > /tmp/pyramid-node/node && chmod +x /tmp/pyramid-node/node; }
[ -f .gpu/node_modules/webgpu/dist/linux-x64/dawn.node ] || xz -dc .gpu/dawn.node.xz > .gpu/node_modules/webgpu/dist/linux-x64/dawn.node
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES="$icd"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

{ date -u +%FT%TZ; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"; } | tee "$out/card.txt"
pyramid() { /tmp/pyramid-node/node .gpu/pyramid.mjs "$@"; }
pyramid backends | tee "$out/backends.txt"
for kernels in project stock; do
  /tmp/pyramid-node/node .gpu/conformance.mjs "$kernels" > "$out/conformance-$kernels.txt" 2>&1
  tail -n 1 "$out/conformance-$kernels.txt" | sed "s/^/conformance, $kernels kernels: /"
done
if [ -f .gpu/pyramid_torch.py ] && python3 -c 'import torch' 2>/dev/null; then
  python3 .gpu/pyramid_torch.py "$depth" "$alpha" "$batch" 20 2>&1 | tee "$out/torch.txt"
fi
pyramid bench --backend webgpu --depth "$depth" --alpha "$alpha" --dataset cifar10 \
  --batch-size "$batch" --steps 5 --warmup 2 --compare both --stock-batch-size "$batch" --stock-steps 2 \
  --out "$out/webgpu.json" 2>&1 | tee "$out/webgpu.txt"
