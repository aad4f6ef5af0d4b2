#!/usr/bin/env bash
# A real short training run: PyramidNet-20 (alpha 24) on Fashion-MNIST's 60,000 training images,
# evaluated on its 10,000 test images, on the CPU backend. Needs the original files
# (Debian: apt-get install dataset-fashion-mnist, or --data-dir pointing at them).
# Result on 2026-11-26 (2-core AMD EPYC VM, 2 threads): see README.md, "A real run".
set -euo pipefail
cd "$(dirname "$0")/.."
npx turbo run build --filter=@pyramid/cli... --output-logs=errors-only
node apps/cli/dist/bin.js train --preset pyramidnet20-a24-fashion-mnist --data fashion-mnist \
  --recipe quick --epochs "${EPOCHS:-2}" --batch-size 128 --lr 0.1 --run "${RUN:-runs/fashion-mnist-$(date +%Y%m%d-%H%M%S)}" "$@"
