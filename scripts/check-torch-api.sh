#!/usr/bin/env bash
# Compile-checks native/ against LibTorch 2.x headers, CPU and CUDA, on a
# machine with neither a GPU nor PyTorch 2.x.
#
# Why: the addon is built with Debian's LibTorch 1.13 here but with PyTorch
# 2.x's LibTorch on GPU hosts, where device time is scarce. This catches API
# drift (autocast, CUDA graphs, allocator stats) before a GPU run does.
#
# How: downloads Debian trixie's libtorch-dev and libtorch-cuda-dev packages
# with a private apt state (nothing is installed) and runs g++ -fsyntax-only
# on each translation unit, the CUDA pass with ALLCNN_WITH_CUDA defined. The
# CUDA pass needs the CUDA runtime headers (CUDA_HOME, default /usr/local/cuda);
# cuSPARSE/cuBLAS/cuSOLVER headers, which LibTorch includes but the addon
# never calls, are stubbed when absent.
#
# The two passes use different C++ standards: C++17, what LibTorch 1.13 to
# 2.13 ask for, and C++20, which PyTorch 2.14 and later require of code that
# includes ATen (CMakeLists.txt switches to it there). So one run shows that
# native/ compiles as either.
#
# A full check that passes writes scripts/torch-api.checked: a hash of what
# it compiled and with (native/, this script, the Node-API headers' and
# g++'s versions) and the LibTorch versions it passed against. Commit it
# with native/ changes. With --if-changed (CI) the check is skipped while
# that hash is still the sources' own: the same sources against the same
# headers give the same result, and the two passes took 150 s of CI's 15
# minutes (2-core EPYC, 2026-12-02). A stale or missing record means the
# full check, as before.
#
# Usage: bash scripts/check-torch-api.sh [--if-changed]    (after npm ci)
set -euo pipefail
cd "$(dirname "$0")/.."

STAMP=scripts/torch-api.checked
inputs_hash() {
  { cat native/*.cc native/*.h scripts/check-torch-api.sh
    g++ -dumpfullversion
    node -p "['node-addon-api', 'node-api-headers'].map((p) => p + ' ' + require(p + '/package.json').version).join('\\n')"
  } | sha256sum | cut -c1-16
}
if [ "${1:-}" = --if-changed ] && [ -z "${ALLCNN_SOURCES:-}" ] && [ -f "$STAMP" ] && grep -qx "sources $(inputs_hash)" "$STAMP"; then
  echo "skip: native/ is as it was when it compiled against these (${STAMP}); run without --if-changed to check again:"
  grep '^passed ' "$STAMP"
  exit 0
fi

WORK=${ALLCNN_TORCH_API_DIR:-.cache/torch-api}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
mkdir -p "$WORK/lists/partial" "$WORK/archives/partial" "$WORK/debs" "$WORK/stubs"
echo "deb http://deb.debian.org/debian trixie main contrib" > "$WORK/sources.list"
APT=(-o "Dir::Etc::sourcelist=$PWD/$WORK/sources.list" -o Dir::Etc::sourceparts=/dev/null
     -o "Dir::State::Lists=$PWD/$WORK/lists" -o "Dir::Cache=$PWD/$WORK"
     -o APT::Sandbox::User=root)

if [ ! -d "$WORK/x/libtorch-cuda-dev" ]; then
  apt-get "${APT[@]}" update -qq
  (cd "$WORK/debs" && apt-get "${APT[@]}" download -qq libtorch-dev libtorch-cuda-dev)
  for deb in "$WORK"/debs/*.deb; do
    name=$(basename "$deb"); name=${name%%_*}
    mkdir -p "$WORK/x/$name" && dpkg-deb -x "$deb" "$WORK/x/$name"
  done
fi

# Opaque handle types are all LibTorch's headers need from these libraries.
for lib in cusparse:cusparseHandle_t cublas_v2:cublasHandle_t cublasLt:cublasLtHandle_t cusolverDn:cusolverDnHandle_t; do
  header=${lib%%:*}; type=${lib##*:}
  [ -f "$CUDA_HOME/include/$header.h" ] || echo "typedef struct ${type}_stub* ${type};" > "$WORK/stubs/$header.h"
done

NAPI=(-Inode_modules/node-api-headers/include "-I$(node -p "require('node-addon-api').include_dir")")
FLAGS=(-fsyntax-only -Wall -Wno-unused-parameter -Werror -D_GLIBCXX_USE_CXX11_ABI=1
       -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED)
JOBS=${JOBS:-$(nproc)}
# One g++ per translation unit, JOBS at a time; prints ok/FAIL per unit.
check_one() {
  local pkg=$1 source=$2 inc="$WORK/x/$1/usr/include" extra=(-std=c++17)
  [ "$pkg" = libtorch-cuda-dev ] && extra=(-std=c++20 -DALLCNN_WITH_CUDA "-I$CUDA_HOME/include" "-I$WORK/stubs")
  local version
  version=$(awk '/define TORCH_VERSION_(MAJOR|MINOR|PATCH)/ {printf "%s%s", sep, $3; sep="."}' "$inc/torch/csrc/api/include/torch/version.h")
  if g++ "${FLAGS[@]}" "${extra[@]}" "${NAPI[@]}" -I"$inc" -I"$inc/torch/csrc/api/include" "$source" 2> "$WORK/$pkg.$(basename "$source").log"; then
    echo "ok:   $source against $pkg $version (${extra[0]})"
  else
    cat "$WORK/$pkg.$(basename "$source").log"; echo "FAIL: $source against $pkg $version (${extra[0]})"; return 1
  fi
}
export -f check_one
export WORK CUDA_HOME
export FLAGS_STR="${FLAGS[*]}" NAPI_STR="${NAPI[*]}"

pkgs=(libtorch-dev)
if [ -f "$CUDA_HOME/include/cuda_runtime_api.h" ]; then
  pkgs+=(libtorch-cuda-dev)
else
  echo "skip: libtorch-cuda-dev needs the CUDA runtime headers (set CUDA_HOME; $CUDA_HOME has none)"
fi
for pkg in "${pkgs[@]}"; do
  for source in ${ALLCNN_SOURCES:-native/*.cc}; do echo "$pkg $source"; done
done | xargs -P "$JOBS" -L 1 bash -c 'read -ra FLAGS <<< "$FLAGS_STR"; read -ra NAPI <<< "$NAPI_STR"; check_one "$0" "$1"' | tee "$WORK/last.log"

# Every unit passed (set -e and pipefail stop above otherwise): record what, for --if-changed.
if [ -z "${ALLCNN_SOURCES:-}" ]; then
  { echo "# written by scripts/check-torch-api.sh on $(date -u +%Y-%m-%d); see there"
    echo "sources $(inputs_hash)"
    sed -n 's/^ok: .* against \(.*\)$/passed \1/p' "$WORK/last.log" | sort -u
  } > "$STAMP"
  echo "recorded in $STAMP"
fi
