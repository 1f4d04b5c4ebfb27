#!/usr/bin/env bash
# Runs on the GPU host (no Node, no npm, no network; PyTorch with CUDA), from
# the repository root of a checkout that carries .gpu/ as made by
# scripts/gpu/prepare.sh. Each phase writes under $OUT (what comes back).
#
#   bash scripts/gpu/device.sh check [SECONDS]    build against PyTorch, CUDA tests, benchmarks, the other
#                                                 tests, most wanted first; what would not end within
#                                                 SECONDS (default 360) is skipped, and the log says so
#   bash scripts/gpu/device.sh retest             after a fix: the build, the CUDA tests and the CUDA-graph
#                                                 concurrency benchmarks only (not the other benchmarks)
#   bash scripts/gpu/device.sh cuda-tests         the build and the CUDA tests only: a first call that
#                                                 checks the addon while the data is still on its way
#   bash scripts/gpu/device.sh profile [SECONDS]  ALL-CNN-C's bf16 CUDA-graph benchmark again, with and
#                                                 without --foreach-sgd and --fuse-conv-relu, and where its
#                                                 step spends its GPU time (bench:profile); default 90 s
#   bash scripts/gpu/device.sh data               join the CIFAR-10 parts carried so far (check sha256)
#   bash scripts/gpu/device.sh accuracy [EPOCHS [SECONDS [fast|fp32]]]
#                                                 fp32 vs the fast path (bf16, CUDA graph) on real data;
#                                                 with fast or fp32, that one only
#   bash scripts/gpu/device.sh reproduce SECONDS [reproduce options, e.g. --concurrency 2]
#                                                 the fast preset for SECONDS, then stop cleanly; a later
#                                                 call with the same options resumes (results travel in $OUT)
#   bash scripts/gpu/device.sh finish SECONDS [EPOCHS]
#                                                 data, then accuracy, then reproduce for what is left of
#                                                 SECONDS: the last call, so that no device time goes idle
#                                                 between calls
#
# Scratch lives in .gpu/work, an ignored folder that a warm machine keeps
# between calls, so the addon is built once per machine.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/allcnn-out}
WORK=$PWD/.gpu/work
BUNDLE=$WORK/allcnn-bundle
DATA=$WORK/cifar-10-binary.tar.gz
DEVICE=${DEVICE:-cuda}   # DEVICE=cpu: a dry run of these calls on a machine without a GPU
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
  [ -n "${SETUP_DONE:-}" ] && return 0
  SETUP_DONE=1
  if [ ! -x "$WORK/node" ]; then
    xz -dc .gpu/node.xz > "$WORK/node" && chmod +x "$WORK/node" || { log "no .gpu/node.xz: carry it (scripts/gpu/prepare.sh)"; exit 1; }
  fi
  if [ ! -d "$BUNDLE" ]; then
    xz -dc .gpu/allcnn-bundle.tar.xz | tar xf - -C "$WORK" || { log "no .gpu/allcnn-bundle.tar.xz: carry it (scripts/gpu/prepare.sh)"; exit 1; }
  fi
  export NODE=$WORK/node
  export ALLCNN_DATA=$WORK/cache   # ZCA matrices and extracted archives
  export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}   # if cmake-js finds no ninja
  # run.sh builds the addon against python3's torch the first time.
  step doctor "$BUNDLE/run.sh" doctor
  # Without an addon for this LibTorch every later step would build it again, until the call's time is gone.
  (cd "$BUNDLE"
   if python3 -c 'import torch' 2>/dev/null; then export LIBTORCH_USE_PYTORCH=1; fi   # the LibTorch run.sh builds against
   "$NODE" -e "process.exit(require('./scripts/libtorch.js').choose().chosen ? 0 : 1)") ||
    { log "no addon for this LibTorch: the build failed (its output is above), so nothing else can run"; exit 1; }
}

# True when NEEDED seconds (a rough guess of a step's length) are left
# before DEADLINE; otherwise logs the skip, so the log says what is missing.
fits() {
  local needed=$1 name=$2
  if [ $((DEADLINE - SECONDS)) -ge "$needed" ]; then return 0; fi
  log "== $name: skipped, $((DEADLINE - SECONDS)) s left of the budget, about $needed s needed"
  return 1
}

check() {
  DEADLINE=$((SECONDS + ${1:-360}))
  {
    date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
    nproc; g++ --version | head -1; cmake --version | head -1
  } >> "$LOG" 2>&1
  data >/dev/null 2>&1   # keeps any CIFAR-10 part carried with this call
  setup
  # Most important first: a call that runs out of time still returns what
  # it has, as bench.tar.gz is rewritten after every step.
  cuda_tests
  mkdir -p "$WORK/bench"
  bench() {  # name, seconds it may take, then bench options
    local name=$1 needed=$2; shift 2
    fits "$needed" "bench $name" || return 0
    step "bench $name" timeout $((DEADLINE - SECONDS)) sh -c "'$BUNDLE/run.sh' bench --device $DEVICE --no-ops --rounds 2 --json $* > '$WORK/bench/$name.json'"
    tar czf "$OUT/bench.tar.gz" -C "$WORK" bench
  }
  # Steps per measurement: about 0.1 s of work at the issue's targets (60k
  # images/s at batch 128, 150k at 512).
  steps_for() { [ "$1" = 128 ] && echo 40 || echo 30; }
  precision_args() { case $1 in fp32) echo "--precision fp32" ;; tf32) echo "--precision fp32 --tf32" ;; bf16) echo "--precision bf16 --tf32" ;; esac; }
  # The targets' precision first (bf16), then TF32, then plain fp32; without the graph, ALL-CNN-C only.
  for p in bf16 tf32 fp32; do
    for bs in 128 512; do bench "graph-$bs-$p" 60 --batch-size $bs --steps "$(steps_for $bs)" $(precision_args $p) --cuda-graph; done
  done
  for p in bf16 tf32 fp32; do
    for bs in 128 512; do bench "eager-$bs-$p" 15 --batch-size $bs --steps "$(steps_for $bs)" $(precision_args $p) --models all-cnn-c; done
  done
  concurrency cuda-graph no-cuda-graph
  # The rest of the suite against this LibTorch (CPU work; pack needs npm).
  fits 60 tests || return 0
  step tests timeout $((DEADLINE - SECONDS)) "$BUNDLE/run.sh" test --json --outputFile="$OUT/jest.json" \
    dist/test/bad-input dist/test/tensor dist/test/functional dist/test/autograd dist/test/memory \
    dist/test/models dist/test/init dist/test/train
}

cuda_tests() {
  # A test that hangs fails at 60 s, and the rest still run: jest writes the JSON only at its end.
  step "cuda tests" timeout 120 "$BUNDLE/run.sh" test --testTimeout=60000 --forceExit --json --outputFile="$OUT/jest-cuda.json" dist/test/cuda
}

# bench:concurrency with and without a stream per run, for each graph option given.
concurrency() {
  mkdir -p "$WORK/bench"
  for g in "$@"; do
    for s in cuda-stream no-cuda-stream; do
      fits 30 "concurrency $g $s" || continue
      step "concurrency $g $s" timeout $((DEADLINE - SECONDS)) sh -c "'$BUNDLE/run.sh' bench:concurrency --device $DEVICE --runs 1,2,4 --tf32 --$g --$s --json > '$WORK/bench/concurrency-$g-$s.json'"
      tar czf "$OUT/bench.tar.gz" -C "$WORK" bench
    done
  done
}

# The build and the CUDA suite (cuda-tests, and the start of retest).
build_and_test() {
  data >/dev/null 2>&1   # keeps any CIFAR-10 part carried with this call
  setup
  cuda_tests
}

# Where the fast path's step spends its GPU time, for the batch-512 target
# (150k images/s wanted), most wanted first: ALL-CNN-C's bf16 + TF32 graph
# benchmark at batch 512 again (it now builds the weights channels-last as
# trainModel does; before 2026-12-01 it did not), then with the SGD update as
# _foreach ops (--foreach-sgd) and with each convolution and its ReLU as
# cuDNN's fused kernel (--fuse-conv-relu): the candidates for the target, A/B
# on one machine; then the profiles at batch 512, eager (each kernel counted
# in the op that launched it, and a Chrome trace) and as a CUDA graph (the
# kernels, and the GPU's busy time against the step's); then both candidates
# together, and the same at batch 128. profile.tar.gz is rewritten after
# every step.
profile() {
  DEADLINE=$((SECONDS + ${1:-90}))
  setup
  mkdir -p "$WORK/profile"
  save() { tar czf "$OUT/profile.tar.gz" -C "$WORK" profile; }
  prof() {  # name, seconds it may take, then bench:profile options
    local name=$1 needed=$2; shift 2
    fits "$needed" "profile $name" || return 0
    step "profile $name" timeout $((DEADLINE - SECONDS)) sh -c "'$BUNDLE/run.sh' bench:profile --device $DEVICE --top 40 $* > '$WORK/profile/$name.txt'"
    save
  }
  again() {  # name, batch size, then more bench options: ALL-CNN-C's bf16 graph benchmark
    local name=$1 bs=$2; shift 2
    fits 15 "bench $name" || return 0
    step "bench $name" timeout $((DEADLINE - SECONDS)) sh -c "'$BUNDLE/run.sh' bench --device $DEVICE --no-ops --rounds 2 --json --models all-cnn-c --batch-size $bs --steps 30 --precision bf16 --tf32 --cuda-graph $* > '$WORK/profile/bench-$name.json'"
    save
  }
  again graph-512-bf16 512
  again graph-512-bf16-foreach 512 --foreach-sgd
  again graph-512-bf16-fused 512 --fuse-conv-relu
  prof eager-512-bf16 20 --batch-size 512 --precision bf16 --tf32 --steps 5 --trace "$WORK/profile/eager-512-bf16.trace.json"
  prof graph-512-bf16 20 --batch-size 512 --precision bf16 --tf32 --steps 10 --cuda-graph
  again graph-512-bf16-both 512 --foreach-sgd --fuse-conv-relu
  again graph-128-bf16 128
  again graph-128-bf16-foreach 128 --foreach-sgd
  again graph-128-bf16-fused 128 --fuse-conv-relu
  prof graph-512-bf16-fused 20 --batch-size 512 --precision bf16 --tf32 --steps 10 --cuda-graph --fuse-conv-relu
  prof eager-128-bf16 15 --batch-size 128 --precision bf16 --tf32 --steps 10
}

retest() {
  DEADLINE=$((SECONDS + 180))
  build_and_test
  concurrency cuda-graph
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
  local epochs=${1:-10} limit=${2:-600} only=${3:-}
  setup; data || exit 1
  # The fast path first: it takes seconds, plain fp32 several times longer.
  # Both together get LIMIT seconds; a run cut off resumes from its last
  # epoch on the next call (--resume).
  local deadline=$((SECONDS + limit))
  for variant in "fast:--precision bf16 --tf32 --channels-last --cuda-graph" "fp32:--precision fp32"; do
    local name=${variant%%:*}
    [ -n "$only" ] && [ "$only" != "$name" ] && continue
    if [ $((deadline - SECONDS)) -lt 10 ]; then log "accuracy $name: skipped, no time left"; continue; fi
    # Without the final ReLU, which can keep ALL-CNN-C at chance for some
    # seeds: this compares the two paths, not the paper's recipe.
    step "accuracy $name" timeout -s INT -k 30 $((deadline - SECONDS)) "$BUNDLE/run.sh" train --model all-cnn-c --data "$DATA" --device $DEVICE \
      --epochs "$epochs" --lr 0.05 --schedule cosine --no-final-relu ${variant#*:} --out "$WORK/accuracy-$name" --resume --json
    [ -f "$WORK/accuracy-$name/result.json" ] && cp "$WORK/accuracy-$name/result.json" "$OUT/accuracy-$name.json"
  done
  return 0
}

reproduce() {
  local seconds=${1:?reproduce needs a time budget in seconds}
  shift
  setup; data || exit 1
  local results=$WORK/results/fast
  if [ ! -d "$results" ]; then  # resume an earlier machine's runs
    for f in .gpu/fast-results.tar.gz gpu-results/fast-results.tar.gz; do
      if [ -f "$f" ]; then mkdir -p "$WORK/results" && tar xzf "$f" -C "$WORK/results" && log "reproduce: resuming $f"; break; fi
    done
    for f in .gpu/fast-checkpoint*.tar.gz; do [ -f "$f" ] && tar xzf "$f" -C "$WORK/results"; done
    # A lock that came with them (a run killed on the machine that wrote it) names a process of
    # that machine; nothing runs on this fresh one, so it goes (allcnn would refuse it for 5 minutes).
    rm -f "$results/.lock"
  fi
  cpu_suites_start "$seconds"
  # SIGINT: the run in progress stops at its next step; finished epochs are checkpointed.
  step reproduce timeout -s INT -k 30 "$seconds" "$BUNDLE/run.sh" reproduce --preset fast --data "$DATA" --device $DEVICE --out "$results" "$@"
  cpu_suites_wait
  # What comes back: the results without their checkpoints (one per network
  # and learning rate, up to about 11 MB each: far more than a call returns),
  # small enough to commit under gpu-results/ for a later session,
  # which then redoes only the runs that were in progress; and, apart, the
  # four newest checkpoints of runs with no full-length record (one file
  # each: the runs in progress with --concurrency up to 4, which write one
  # every epoch, or else recent probes), with which a fresh machine in this
  # session resumes them where they stopped.
  tar czf "$OUT/fast-results.tar.gz" -C "$WORK/results" --exclude=fast/checkpoints --exclude=fast/.lock fast
  rm -f "$OUT"/fast-checkpoint*.tar.gz
  local n=0 ckpt f
  # Once REPORT.md exists every run has finished: the probes not continued need no checkpoint.
  [ -f "$results/REPORT.md" ] || for ckpt in $(ls -t "$results"/checkpoints/*.safetensors 2>/dev/null); do
    [ "$n" -ge 4 ] && break
    # A checkpoint is named after its run's id, '/' made '_' (lib/experiments/runner.ts).
    unfinished "$results/runs.jsonl" "$(basename "$ckpt" .safetensors)" || continue
    f=$OUT/fast-checkpoint-$((n + 1)).tar.gz
    tar czf "$f" -C "$WORK/results" "fast/checkpoints/$(basename "$ckpt")"
    # A file over 16 MB would not come back (the fully-connected-top ablation's is about 20 MB).
    if [ "$(stat -c %s "$f")" -gt 16000000 ]; then
      rm "$f" && log "reproduce: $(basename "$ckpt") is too big to come back"
    else
      n=$((n + 1))
    fi
  done
  log "reproduce: $n checkpoints of unfinished runs saved"
  [ -f "$results/REPORT.md" ] && cp "$results/REPORT.md" "$OUT/REPORT.md"
  return 0
}

# The CPU test suites (all but the CUDA one, and pack, which needs npm)
# against this host's LibTorch, in the background of a reproduce call, on
# the upper half of the cores: the reproduction keeps the GPU busy from one
# thread or two, so this costs no device time. They stop when the
# reproduction does (a call must not outlast it), and run once per machine:
# a call that cuts them off leaves them to the next one.
cpu_suites_start() {
  CPU_SUITES_PID=
  [ -f "$WORK/cpu-suites.done" ] && return 0
  local half=$(( $(nproc) / 2 )) pin=()
  [ "$half" -ge 1 ] || half=1
  command -v taskset >/dev/null && [ "$(nproc)" -ge 4 ] && pin=(taskset -c "$half-$(( $(nproc) - 1 ))")
  log "== cpu suites: started in the background (${pin[*]:-unpinned}, $half threads)"
  CPU_SUITES_T0=$SECONDS
  # timeout passes a TERM on to jest, which is how cpu_suites_wait stops them.
  OMP_NUM_THREADS=$half timeout -s KILL "$1" "${pin[@]}" "$BUNDLE/run.sh" test --json --outputFile="$OUT/jest-cpu.json" \
    --testPathIgnorePatterns pack cuda > "$WORK/cpu-suites.log" 2>&1 &
  CPU_SUITES_PID=$!
}

cpu_suites_wait() {
  [ -n "${CPU_SUITES_PID:-}" ] || return 0
  kill -0 "$CPU_SUITES_PID" 2>/dev/null && kill -TERM "$CPU_SUITES_PID"
  wait "$CPU_SUITES_PID"
  local rc=$? tests
  tail -n 30 "$WORK/cpu-suites.log" >> "$LOG"   # in the log: a call returns 8 files at most
  tests=$(grep '^Tests:' "$WORK/cpu-suites.log")
  [ -n "$tests" ] && touch "$WORK/cpu-suites.done"
  log "== cpu suites: exit $rc after $((SECONDS - CPU_SUITES_T0)) s (${tests:-stopped with the reproduction, before the end})"
}

# Whether the run whose checkpoint is named $2 has no full-length record in the journal $1.
# (No `grep -q` at the end of a pipe: under pipefail its early exit can fail the pipe.)
unfinished() {
  local ids
  ids=$(grep -o '"id":"[^"]*/full"' "$1" 2>/dev/null | sed 's/^"id":"//; s#/full"$##; s#/#_#g')
  [[ $'\n'"$ids"$'\n' != *$'\n'"$2"$'\n'* ]]
}

# The last call: whatever time is left after joining the data goes to the
# accuracy check (once per machine) and then the reproduction.
finish() {
  local seconds=${1:?finish needs a time budget in seconds} epochs=${2:-10}
  local t0=$SECONDS
  setup; data || exit 1
  # At most half of the time for the accuracy check: the rest is the reproduction's.
  [ -f "$WORK/accuracy-fp32/result.json" ] || accuracy "$epochs" $(((seconds - (SECONDS - t0)) / 2))
  local left=$((seconds - (SECONDS - t0)))
  if [ "$left" -lt 60 ]; then log "finish: $left s left, too little to reproduce"; return 0; fi
  reproduce "$left"
}

case "${1:-check}" in
  check) shift; check "$@" ;;
  retest) retest ;;
  cuda-tests) build_and_test ;;
  profile) shift; profile "$@" ;;
  data) data ;;
  accuracy) shift; accuracy "$@" ;;
  reproduce) shift; reproduce "$@" ;;
  finish) shift; finish "$@" ;;
  *) echo "usage: device.sh check [SECONDS]|retest|cuda-tests|profile [SECONDS]|data|accuracy [EPOCHS [SECONDS [fast|fp32]]]|reproduce SECONDS|finish SECONDS [EPOCHS]" >&2; exit 2 ;;
esac
