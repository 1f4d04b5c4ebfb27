#!/usr/bin/env bash
# Installs what allcnn needs on Debian/Ubuntu (as root, or with sudo), then
# the npm dependencies and the native addon. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
for pkg in \
  libtorch-dev `# LibTorch 1.13 (CPU)` \
  cmake `# builds the addon (cmake-js)` \
  g++ `# its C++17 compiler` \
  make `# cmake's default generator` \
  libopenblas0-pthread `# OpenBLAS instead of the reference BLAS: 30-40x faster matmul/eigh (ZCA)` \
  fonts-dejavu-core `# a font for the text in PNG figures`; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
npm run build:native
npm run build:ts
