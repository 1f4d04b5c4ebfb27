#!/usr/bin/env bash
# Builds the addon against LibTorch 2.x and runs the test suite with it, on a
# machine that only has LibTorch 1.13: inside a Debian trixie chroot (its
# libtorch-dev is 2.6.0, CPU, built with g++ 14). The GPU host links PyTorch
# 2.x's LibTorch, so this runs there what CI runs against 1.13, short of CUDA.
# The pack test is left out (it needs npm, which the chroot has not).
#
# Usage (as root, after npm ci and with network to Debian's mirror):
#   bash scripts/check-torch2-runtime.sh      # ~5 min the first time (the chroot is kept)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${ALLCNN_TRIXIE_ROOT:-${TMPDIR:-/tmp}/allcnn-trixie}
APP=$ROOT/work/allcnn

if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
  debootstrap --variant=minbase trixie "$ROOT" http://deb.debian.org/debian
fi
cleanup() { for m in "$ROOT/work/shared" "$ROOT/dev" "$ROOT/proc"; do mountpoint -q "$m" && umount "$m"; done; return 0; }
trap cleanup EXIT
mountpoint -q "$ROOT/proc" || mount --bind /proc "$ROOT/proc"
mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
if [ -d ../shared ]; then  # the real-data tests look for ../shared/datasets
  mkdir -p "$ROOT/work/shared"
  mountpoint -q "$ROOT/work/shared" || mount --bind -o ro ../shared "$ROOT/work/shared"
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
if [ ! -f "$ROOT/.allcnn-packages" ]; then
  chroot "$ROOT" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
     libtorch-dev cmake g++ make python3 libopenblas0-pthread fonts-dejavu-core >/dev/null'
  touch "$ROOT/.allcnn-packages"
fi

# This working tree (tracked and untracked, not ignored), its node_modules and this Node.
rm -rf "$APP" && mkdir -p "$APP"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$APP"
cp -a node_modules "$APP/"
cp "$(command -v node)" "$ROOT/usr/local/bin/node"

# Trixie's LibTorch links OpenMPI, whose UCX patches libc's brk and mmap as it
# loads and so crashes Node now and then (docs/RESULTS.md). lib/native.ts turns
# that off in a real process, but jest gives tests a copy of process.env, so
# the suite's own process needs it from outside.
# NODE_EXTRA_CA_CERTS names a file of this machine that the chroot lacks: Node
# would warn on stderr in every process, which tests of stderr take for errors.
chroot "$ROOT" env -u NODE_EXTRA_CA_CERTS UCX_MEM_MMAP_HOOK_MODE=none bash -c 'cd /work/allcnn &&
  node scripts/build-native.js | tail -1 &&
  node node_modules/typescript/bin/tsc -p tsconfig.json &&
  node node_modules/jest/bin/jest.js --runInBand --testPathIgnorePatterns pack.test'
