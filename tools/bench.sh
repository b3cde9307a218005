#!/usr/bin/env bash
# make bench: resdyn's speed against the references, measured in the same run.
# The references run as fast as they can here: PyTorch with OMP_WAIT_POLICY=passive (its
# OpenMP workers otherwise spin against OpenBLAS's threads) and with glibc's malloc keeping
# freed memory (see malloc_keeps_memory below), and OpenBLAS (PyTorch's BLAS too) on the
# fastest kernels it has for this CPU. Which those are is measured, not assumed:
# an OpenBLAS older than the CPU names it by an old core (an AVX-512 CPU as Prescott, SSE3
# kernels at an eighth of the speed), and a machine's environment may pin OPENBLAS_CORETYPE
# and OPENBLAS_L2_SIZE to older kernels. So the benchmark times OpenBLAS's own choice and
# every core type the CPU's flags allow, and runs both references on the fastest.
# A reference that is not installed is reported as missing, not as a failure
# (Debian packages: libopenblas-dev, python3-torch).
threads=$(nproc)
reference=$(mktemp) nets_log=$(mktemp) scratch=$(mktemp -d)
load_pid=""
cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
  rm -rf "$reference" "$nets_log" "$scratch"
}
trap cleanup EXIT

# OPENBLAS_CORETYPE for the references: empty for OpenBLAS's own detection, else the fastest.
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
candidates=("")
has avx2 fma && candidates+=(Haswell)
has avx512f avx512bw avx512dq avx512vl avx512cd && candidates+=(SkylakeX)
has avx512f avx512bw avx512dq avx512vl avx512_bf16 && candidates+=(Cooperlake)
coretype="" best=0
for c in "${candidates[@]}"; do
  if [ -z "$c" ]; then
    line=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE build/resdyn_bench --openblas-probe) || break
  else
    line=$(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE="$c" build/resdyn_bench --openblas-probe) || break
  fi
  echo "OpenBLAS with OPENBLAS_CORETYPE=${c:-(its own detection)}: ${line% *} kernels, ${line##* } GFLOP/s (128 x 1064 x 1064)"
  if awk -v a="${line##* }" -v b="$best" 'BEGIN { exit !(a > b) }'; then best=${line##* } coretype=$c; fi
done
# PyTorch allocates every tensor afresh; glibc's malloc serves blocks of megabytes with mmap
# and hands them back to the kernel when freed, so each step faults its tensors' pages in
# again. Where a page fault is dear (seen in a virtual machine: PyTorch's shared-weight
# training at a third of its speed, most of it in the adds that sum W's gradient) that, not
# arithmetic, sets its pace. These tunables keep freed blocks in the process, as a
# caching allocator would; resdyn runs under them too (its training steps allocate nothing).
malloc_keeps_memory=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296
reference_env=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=passive
               GLIBC_TUNABLES=$malloc_keeps_memory)
[ -n "$coretype" ] && reference_env+=(OPENBLAS_CORETYPE="$coretype")
[ "$best" != 0 ] && echo "references run with OPENBLAS_CORETYPE=${coretype:-(unset)}"
# This machine's speed drifts by a fifth or more over minutes (other tenants), so the nets
# are measured in ROUNDS rounds, each PyTorch and then resdyn back to back, and the summary
# gives each ratio's median and range over the rounds.
rounds=${ROUNDS:-3}
"${reference_env[@]}" build/resdyn_bench --only gemm
if /usr/bin/python3 -c "import torch" >/dev/null 2>&1; then has_torch=1; else has_torch=0; fi
[ $has_torch = 1 ] || echo "PyTorch not found (python3-torch): no PyTorch reference"
# Each figure's median over the rounds in a log of resdyn_bench's rows, with the ratio's range.
summarize() {
  awk '/x$/ && NF >= 4 && $1 != "shape" {
    key = $0; sub(/ +[0-9.]+ +[0-9.]+ +[0-9.]+x$/, "", key); sub(/^ +/, "", key)
    if (!(key in n)) order[++keys] = key
    i = ++n[key]; ours[key, i] = $(NF - 2); ref[key, i] = $(NF - 1); ratio[key, i] = $NF + 0
  }
  function median(a, key, count,   v, i, j, t) {
    for (i = 1; i <= count; ++i) v[i] = a[key, i] + 0
    for (i = 1; i <= count; ++i) for (j = i + 1; j <= count; ++j) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    lo = v[1]; hi = v[count]
    return count % 2 ? v[(count + 1) / 2] : (v[count / 2] + v[count / 2 + 1]) / 2
  }
  END {
    printf "  %-40s %10s %10s %8s %14s\n", "what", "resdyn", "PyTorch", "ratio", "range"
    for (k = 1; k <= keys; ++k) {
      key = order[k]; c = n[key]
      o = median(ours, key, c); r = median(ref, key, c); q = median(ratio, key, c)
      printf "  %-40s %10.0f %10.0f %7.2fx %6.2f-%.2fx\n", key, o, r, q, lo, hi
    }
  }' "$1"
}
for round in $(seq "$rounds"); do
  echo
  echo "round $round of $rounds"
  : >"$reference"
  if [ $has_torch = 1 ]; then
    echo "measuring PyTorch ($threads threads)..."
    "${reference_env[@]}" /usr/bin/python3 tools/bench_torch.py "$threads" >"$reference"
  fi
  "${reference_env[@]}" build/resdyn_bench --only nets --reference "$reference" | tee -a "$nets_log"
done
echo
echo "paper nets over $rounds rounds: median samples/s, and the median ratio with its range"
summarize "$nets_log"

# The lead on a shared machine: the float32 rows again while something else runs beside
# them, in ROUNDS rounds of each: (1) a busy loop on one core; (2) a second resdyn training
# of the shared paper net on all threads, as when a user trains two seeds at once. Each
# round measures PyTorch, then resdyn, under the same load, started afresh.
start_load() {  # kind -> runs it in the background, its pid in load_pid, once it is at work
  if [ "$1" = busy ]; then
    bash -c 'while :; do :; done' & load_pid=$!
  else
    progress=$scratch/beside.log
    build/resdyn train --data data/mnist --width 1064 --depth 15 --epochs 1000 --threads "$threads" \
      --out "$scratch/beside.resdyn" >"$progress" 2>&1 & load_pid=$!
    # At work once it reports its first batches (loading MNIST comes before).
    until grep -q ' batch ' "$progress" || ! kill -0 "$load_pid" 2>/dev/null; do sleep 0.2; done
  fi
}
stop_load() {
  kill "$load_pid" 2>/dev/null
  wait "$load_pid" 2>/dev/null
  load_pid=""
}
for load in busy training; do
  if [ "$load" = busy ]; then
    title="beside a busy loop on one core"
  elif [ -f data/mnist/train-images-idx3-ubyte ]; then
    title="beside a second resdyn training (shared 15 x 1064, $threads threads)"
  else
    echo
    echo "MNIST not found in data/mnist (make data): no rounds beside a second training"
    continue
  fi
  : >"$nets_log"
  for round in $(seq "$rounds"); do
    echo
    echo "shared machine, $title: round $round of $rounds"
    start_load "$load"
    : >"$reference"
    [ $has_torch = 1 ] && "${reference_env[@]}" /usr/bin/python3 tools/bench_torch.py "$threads" fp32 >"$reference"
    "${reference_env[@]}" build/resdyn_bench --only nets --fp32-only --reference "$reference" | tail -n +3 |
      tee -a "$nets_log"
    stop_load
  done
  echo
  echo "shared machine, $title, over $rounds rounds: median samples/s, and the median ratio with its range"
  summarize "$nets_log"
done

echo
"${reference_env[@]}" build/resdyn_bench --only integer
# Peak resident memory of one epoch of full-MNIST training of the paper's nets: resdyn train
# reports its own peak (the whole process, data and checkpoints included).
if [ -f data/mnist/train-images-idx3-ubyte ] && [ -f data/mnist/t10k-images-idx3-ubyte ]; then
  echo
  echo "peak resident memory, one epoch of full-MNIST training (15 x 1064, batch 128, Adam, $threads threads):"
  for weights in shared per-layer; do
    line=$(build/resdyn train --data data/mnist --weights "$weights" --width 1064 --depth 15 --epochs 1 \
      --batch 128 --lr 5e-3 --threads "$threads" --out "$scratch/$weights.resdyn" | grep '^saved')
    printf '  %-10s %s\n' "$weights" "${line#*(}" | tr -d ')'
  done
else
  echo "MNIST not found in data/mnist (make data): no training memory figure"
fi
