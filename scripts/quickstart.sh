#!/usr/bin/env bash
# The README's first command: set everything up, then run the main job,
# `allcnn reproduce`, on the bundled 600-image CIFAR-10 sample (or on the
# archive given as the first argument) with the CPU smoke preset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ $# -gt 0 ]; then
  exec node bin/allcnn.js reproduce --preset smoke --data "$1"
fi
exec node bin/allcnn.js reproduce --preset smoke
