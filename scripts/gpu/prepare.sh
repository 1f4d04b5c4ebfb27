#!/usr/bin/env bash
# Prepares what a GPU host without Node or network needs, in .gpu/ (ignored
# by git; each file stays under the 55 MB a transfer may carry):
#   .gpu/node.xz                          this machine's Node binary (~24 MB)
#   .gpu/allcnn-bundle.tar.gz             npm run bundle -- --with-tests (~30 MB)
#   .gpu/cifar-10-binary.tar.gz.part-0N   the CIFAR-10 archive in 4 parts (~43 MB each)
# Then, on the GPU host, scripts/gpu/device.sh does the work; docs/GPU.md
# lists the calls in order.
#
# Usage: bash scripts/gpu/prepare.sh [path/to/cifar-10-binary.tar.gz]
set -euo pipefail
cd "$(dirname "$0")/../.."
CIFAR=${1:-../shared/datasets/cifar-10-binary.tar.gz}
mkdir -p .gpu
npm run build:ts --silent
node scripts/bundle.js .gpu/bundle --with-tests
mv .gpu/bundle/allcnn-bundle.tar.gz .gpu/allcnn-bundle.tar.gz
rm -rf .gpu/bundle
[ -f .gpu/node.xz ] || xz -T2 -c "$(command -v node)" > .gpu/node.xz
if [ -f "$CIFAR" ]; then
  rm -f .gpu/cifar-10-binary.tar.gz.part-*
  split -n 4 -d "$CIFAR" .gpu/cifar-10-binary.tar.gz.part-
fi
ls -l .gpu | sed 1d
