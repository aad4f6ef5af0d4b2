#!/usr/bin/env bash
# Prepares .gpu/, everything an NVIDIA machine without Node, a package registry or a Vulkan loader
# needs to check and time the WebGPU backend beside PyTorch: Node itself, the CLI and the conformance
# suite bundled with the WebGPU plugin, Dawn's binary, the Vulkan loader, the PyTorch baseline and run.sh.
# Try it here first: `.gpu/run.sh` also runs on a machine without a GPU (Dawn on Mesa's lavapipe).
# Usage: scripts/gpu/prepare.sh [path/to/pyramid_torch.py]
set -euo pipefail
cd "$(dirname "$0")/../.."
torch_script="${1:-../shared/gpu/pyramid_torch.py}"

npx turbo run build --filter=@pyramid/cli... --filter=@pyramid/backend-webgpu... --filter=@pyramid/conformance... --output-logs=errors-only
rm -rf .gpu
mkdir -p .gpu/node_modules/webgpu/dist/linux-x64 .gpu/deb

# Native and optional modules stay outside the bundle; only Dawn is needed for benchmarks.
bundle() {
  npx esbuild "scripts/gpu/$1.mts" --bundle --platform=node --format=esm --target=node20 \
    --outfile=".gpu/$1.mjs" --log-level=warning \
    --external:webgpu --external:@resvg/resvg-js --external:vega --external:vega-lite --external:mnist \
    --banner:js="import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
}
bundle pyramid
bundle conformance

xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > .gpu/node.xz
dawn=node_modules/webgpu
cp "$dawn/index.js" "$dawn/package.json" .gpu/node_modules/webgpu/
xz -T2 -6 -c "$dawn/dist/linux-x64/dawn.node" > .gpu/dawn.node.xz

if ! (cd .gpu/deb && apt-get download libvulkan1 >/dev/null 2>&1); then
  echo "warning: could not download libvulkan1 (apt-get update first); run.sh will need a Vulkan loader on the machine" >&2
fi
if [ -f "$torch_script" ]; then cp "$torch_script" .gpu/; else echo "warning: $torch_script not found: no PyTorch baseline" >&2; fi
cp scripts/gpu/run.sh .gpu/run.sh
chmod +x .gpu/run.sh
du -sh .gpu
