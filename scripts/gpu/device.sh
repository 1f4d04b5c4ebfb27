#!/usr/bin/env bash
# Runs on the GPU host (no Node, no npm, no network; PyTorch with CUDA), from
# the repository root of a checkout that carries .gpu/ as made by
# scripts/gpu/prepare.sh. Each phase writes under $OUT (what comes back).
#
#   bash scripts/gpu/device.sh check              build against PyTorch, doctor, tests, benchmarks
#   bash scripts/gpu/device.sh data               join the CIFAR-10 parts carried so far (check sha256)
#   bash scripts/gpu/device.sh accuracy [EPOCHS]  fp32 vs the fast path (bf16, CUDA graph) on real data
#   bash scripts/gpu/device.sh reproduce SECONDS [reproduce options, e.g. --concurrency 2]
#                                                 the fast preset for SECONDS, then stop cleanly; a later
#                                                 call with the same options resumes (results travel in $OUT)
#
# Scratch lives in .gpu/work, an ignored folder that a warm machine keeps
# between calls, so the addon is built once per machine.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/allcnn-out}
WORK=$PWD/.gpu/work
BUNDLE=$WORK/allcnn-bundle
DATA=$WORK/cifar-10-binary.tar.gz
CIFAR_SHA256=6f8f7417d09d1475bb9274058483d538a35959d5968d25944acefe751f2a84a1
mkdir -p "$OUT" "$WORK"
LOG=$OUT/log.txt
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }
# Runs a command, its output to the log, and records its status and time.
step() {
  local name=$1; shift
  local t0=$SECONDS
  log "== $name: $*"
  "$@" >> "$LOG" 2>&1
  local rc=$?
  log "== $name: exit $rc after $((SECONDS - t0)) s"
  return $rc
}

setup() {
  if [ ! -x "$WORK/node" ]; then
    xz -dc .gpu/node.xz > "$WORK/node" && chmod +x "$WORK/node" || { log "no .gpu/node.xz: carry it (scripts/gpu/prepare.sh)"; exit 1; }
  fi
  if [ ! -d "$BUNDLE" ]; then
    tar xzf .gpu/allcnn-bundle.tar.gz -C "$WORK" || { log "no .gpu/allcnn-bundle.tar.gz: carry it (scripts/gpu/prepare.sh)"; exit 1; }
  fi
  export NODE=$WORK/node
  export ALLCNN_DATA=$WORK/cache   # ZCA matrices and extracted archives
  # run.sh builds the addon against python3's torch the first time.
  step doctor "$BUNDLE/run.sh" doctor
}

run() { "$BUNDLE/run.sh" "$@"; }

check() {
  {
    date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
    nproc; g++ --version | head -1; cmake --version | head -1
  } >> "$LOG" 2>&1
  setup
  # Most important first: a call that runs out of time still returns what
  # it has, as bench.tar.gz is rewritten after every step.
  step "cuda tests" timeout 120 "$BUNDLE/run.sh" test --json --outputFile="$OUT/jest-cuda.json" dist/test/cuda
  mkdir -p "$WORK/bench"
  bench() {  # name, then bench options
    local name=$1; shift
    step "bench $name" sh -c "'$BUNDLE/run.sh' bench --device cuda --no-ops --steps 20 --rounds 2 --json $* > '$WORK/bench/$name.json'"
    tar czf "$OUT/bench.tar.gz" -C "$WORK" bench
  }
  for bs in 128 512; do
    bench "graph-$bs-tf32" --batch-size $bs --precision fp32 --tf32 --cuda-graph
    bench "graph-$bs-bf16" --batch-size $bs --precision bf16 --tf32 --cuda-graph
    bench "graph-$bs-fp32" --batch-size $bs --precision fp32 --cuda-graph
    for p in tf32 bf16 fp32; do  # without the graph: ALL-CNN-C only
      case $p in fp32) args="--precision fp32" ;; tf32) args="--precision fp32 --tf32" ;; bf16) args="--precision bf16 --tf32" ;; esac
      bench "eager-$bs-$p" --batch-size $bs $args --models all-cnn-c
    done
  done
  for g in cuda-graph no-cuda-graph; do
    for s in cuda-stream no-cuda-stream; do
      step "concurrency $g $s" sh -c "'$BUNDLE/run.sh' bench:concurrency --device cuda --runs 1,2,4 --tf32 --$g --$s --json > '$WORK/bench/concurrency-$g-$s.json'"
      tar czf "$OUT/bench.tar.gz" -C "$WORK" bench
    done
  done
  # The rest of the suite against this LibTorch (CPU work; pack needs npm).
  step tests timeout 240 "$BUNDLE/run.sh" test --json --outputFile="$OUT/jest.json" \
    dist/test/bad-input dist/test/tensor dist/test/functional dist/test/autograd dist/test/memory \
    dist/test/models dist/test/init dist/test/train
}

data() {
  if [ -f "$DATA" ] && echo "$CIFAR_SHA256  $DATA" | sha256sum -c --status; then log "data: $DATA is complete"; return 0; fi
  mkdir -p "$WORK/parts"
  cp -n .gpu/cifar-10-binary.tar.gz.part-* "$WORK/parts/" 2>/dev/null
  log "data: parts so far: $(ls "$WORK/parts" | tr '\n' ' ')"
  cat "$WORK"/parts/cifar-10-binary.tar.gz.part-* > "$DATA.tmp"
  if echo "$CIFAR_SHA256  $DATA.tmp" | sha256sum -c --status; then mv "$DATA.tmp" "$DATA"; log "data: joined, sha256 ok"; else rm -f "$DATA.tmp"; log "data: incomplete (carry the other parts)"; return 1; fi
}

accuracy() {
  local epochs=${1:-10}
  setup; data || exit 1
  for variant in "fp32:--precision fp32" "fast:--precision bf16 --tf32 --channels-last --cuda-graph"; do
    local name=${variant%%:*}
    # Without the final ReLU, which can keep ALL-CNN-C at chance for some
    # seeds: this compares the two paths, not the paper's recipe.
    step "accuracy $name" run train --model all-cnn-c --data "$DATA" --device cuda --epochs "$epochs" --lr 0.05 --schedule cosine \
      --no-final-relu ${variant#*:} --out "$WORK/accuracy-$name" --json
    cp "$WORK/accuracy-$name/result.json" "$OUT/accuracy-$name.json"
  done
}

reproduce() {
  local seconds=${1:?reproduce needs a time budget in seconds}
  shift
  setup; data || exit 1
  local results=$WORK/results/fast
  if [ ! -d "$results" ] && ls .gpu/fast-results.tar.gz* >/dev/null 2>&1; then
    mkdir -p "$WORK/results" && cat .gpu/fast-results.tar.gz* | tar xzf - -C "$WORK/results"   # resume an earlier machine's runs
  fi
  # SIGINT: the run in progress stops at its next step; finished epochs are checkpointed.
  step reproduce timeout -s INT -k 30 "$seconds" "$BUNDLE/run.sh" reproduce --preset fast --data "$DATA" --device cuda --out "$results" "$@"
  tar czf "$WORK/fast-results.tar.gz" -C "$WORK/results" fast
  rm -f "$OUT"/fast-results.tar.gz.part-*
  split -b 15M -d "$WORK/fast-results.tar.gz" "$OUT/fast-results.tar.gz.part-"
  [ -f "$results/REPORT.md" ] && cp "$results/REPORT.md" "$OUT/REPORT.md"
  return 0
}

case "${1:-check}" in
  check) check ;;
  data) data ;;
  accuracy) shift; accuracy "$@" ;;
  reproduce) shift; reproduce "$@" ;;
  *) echo "usage: device.sh check|data|accuracy [epochs]|reproduce SECONDS" >&2; exit 2 ;;
esac
