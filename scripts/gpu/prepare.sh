#!/usr/bin/env bash
# Prepares what a GPU host without Node or network needs, in .gpu/ (ignored
# by git):
#   .gpu/node.xz                          this machine's Node binary (~24 MB)
#   .gpu/allcnn-bundle.tar.xz             npm run bundle -- --with-tests, as xz (~13 MB; gzip: ~25 MB)
#   .gpu/cifar-10-binary.tar.gz.part-00   what of the CIFAR-10 archive fits beside those two in call 1
#   .gpu/cifar-10-binary.tar.gz.part-0N   the rest, in equal parts of at most 52 MB, one per later call
# Each call to the device sends the checkout (~5 MB) and what it carries,
# 64 MiB at most, so the parts are cut to fill the calls: four calls in all
# instead of six, and device time is not spent idle between calls. Then, on
# the GPU host, scripts/gpu/device.sh does the work; docs/GPU.md lists the
# calls in order.
#
# Usage: bash scripts/gpu/prepare.sh [path/to/cifar-10-binary.tar.gz]
set -euo pipefail
cd "$(dirname "$0")/../.."
CIFAR=${1:-../shared/datasets/cifar-10-binary.tar.gz}
CARRY_LIMIT=58000000   # bytes a call may carry: 64 MiB less the checkout and a margin
PART_LIMIT=52000000    # bytes per later part: the issue's 55 MB pieces, with a margin
size() { stat -c %s "$1"; }

mkdir -p .gpu
npm run build:ts --silent
node scripts/bundle.js .gpu/bundle --with-tests
gzip -dc .gpu/bundle/allcnn-bundle.tar.gz | xz -T2 -9 > .gpu/allcnn-bundle.tar.xz
rm -rf .gpu/bundle .gpu/allcnn-bundle.tar.gz
[ -f .gpu/node.xz ] || xz -T2 -c "$(command -v node)" > .gpu/node.xz
checkout=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
[ "$checkout" -lt 6000000 ] || echo "prepare.sh: the checkout is $checkout bytes; lower CARRY_LIMIT so that a call stays under 64 MiB" >&2

if [ -f "$CIFAR" ]; then
  rm -f .gpu/cifar-10-binary.tar.gz.part-*
  total=$(size "$CIFAR")
  first=$((CARRY_LIMIT - $(size .gpu/node.xz) - $(size .gpu/allcnn-bundle.tar.xz)))
  [ "$first" -gt 0 ] || first=0
  head -c "$first" "$CIFAR" > .gpu/cifar-10-binary.tar.gz.part-00
  rest=$((total - first))
  n=$(((rest + PART_LIMIT - 1) / PART_LIMIT))
  tail -c +$((first + 1)) "$CIFAR" | split -b $(((rest + n - 1) / n)) -d --numeric-suffixes=1 - .gpu/cifar-10-binary.tar.gz.part-
fi
ls -l .gpu | sed 1d
