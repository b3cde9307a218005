#!/usr/bin/env bash
# 'make cross': resdyn on other CPUs. For each target, cross-builds the program and a test
# binary of the numeric unit suite with Debian's cross compiler, runs them under qemu-user
# and checks files written here load there and the other way round. Targets:
#   aarch64  ARMv8.2-A with the dot product (Cortex-A55/A76 class): the NEON float kernel, SDOT
#   armhf    32-bit ARMv7-A with NEON (Cortex-A7/A9/A15): the portable kernels
#   s390x    IBM Z, big-endian: the portable kernels, every byte-order conversion
#   aarch64-v8  (not by default) ARMv8.0-A (Cortex-A53/A72): NEON, integers by widening multiplies
# Prints one line per target ("cross: TARGET: passed ..."); exits non-zero on any failure.
# Installs the Debian packages it lacks (needs root).
#   CROSS_TARGETS  which targets (default "aarch64 armhf s390x")
#   CROSS_OUT      build and exchange directory (default build/cross)
#   JOBS           parallel compile jobs (default 2)
#
# The suite's subset: the files of numeric unit tests (GEMM, integer kernels and inference,
# forward pass, gradients, IDX/gzip/CRC, model files, thread pool, kernels and exchange),
# without the tests that train on MNIST for accuracy or run a compiler, and without the
# paper-sized repeats of checks the subset makes at smaller sizes (same-bits-in-any-batch,
# packed B, the paper-sized products, the integer path's accuracy unrolled to 1000 layers):
# minutes each under emulation, and nothing in them depends on the CPU in a way the rest
# does not reach.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=${CROSS_TARGETS:-aarch64 armhf s390x}
OUT=${CROSS_OUT:-build/cross}
JOBS=${JOBS:-2}
GTEST_SRC=/usr/src/googletest/googletest
TEST_FILES="test_cross test_fixed_point test_forward test_gemm test_gradients test_idx test_model_file test_thread_pool"
SKIP="FixedPoint.QuantizedMnistAccuracyMatchesFloat:FixedPoint.FixedPointTrainingTracksFloatTraining"
SKIP+=":FixedPoint.ExportedCHeaderCompilesAndAgrees:FixedPoint.NpyExportFilesParse:FixedPoint.QuantizedLogitsCloseToFloat"
SKIP+=":Forward.PackedWeightsGiveTheSameBitsInAnyBatch:Forward.PackedWeightsGiveTheSameBitsOnThePaperNet"
SKIP+=":Gemm.PackedBGivesTheSameBitsAsB:Gemm.PaperSizedProductMatchesNaive"
fail() { echo "cross: $*" >&2; exit 1; }

triple_of() {
  case $1 in
    aarch64 | aarch64-v8) echo aarch64-linux-gnu ;;
    armhf) echo arm-linux-gnueabihf ;;
    s390x) echo s390x-linux-gnu ;;
    *) echo "cross: unknown target '$1' (aarch64, aarch64-v8, armhf, s390x)" >&2; exit 2 ;;
  esac
}
qemu_of() { case $1 in aarch64*) echo qemu-aarch64 ;; armhf) echo qemu-arm ;; s390x) echo qemu-s390x ;; esac; }
flags_of() {
  case $1 in
    aarch64) echo "-march=armv8.2-a+dotprod -Wno-psabi" ;;
    aarch64-v8) echo "-march=armv8-a -Wno-psabi" ;;
    armhf) echo "-march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard -Wno-psabi" ;;
    s390x) echo "" ;;
  esac
}

# 1. Cross compilers, emulator, GoogleTest's sources.
need=()
for t in $TARGETS; do
  triple=$(triple_of "$t")
  command -v "$triple-g++" >/dev/null 2>&1 || need+=("g++-$triple")
  command -v "$(qemu_of "$t")" >/dev/null 2>&1 || need+=(qemu-user)
done
[ -f "$GTEST_SRC/src/gtest-all.cc" ] || need+=(googletest)
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" != 0 ]; then
    echo "cross: missing packages: ${need[*]} (install them with: sudo apt-get install ${need[*]})" >&2
    exit 2
  fi
  echo "cross: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. The host side: its test binary writes (and reads) the exchanged files; its program
# evaluates the model it wrote, in float and quantized, for the targets' programs to match.
[ -f data/mnist/t10k-labels-idx1-ubyte ] || [ -f data/mnist/t10k-labels-idx1-ubyte.gz ] || bash tools/fetch_mnist.sh
make -s -j"$JOBS" build/resdyn build/resdyn_tests
mkdir -p "$OUT"
EXCHANGE=$OUT/exchange
rm -rf "$EXCHANGE"
mkdir -p "$EXCHANGE/host"
RESDYN_EXCHANGE_OUT=$EXCHANGE/host build/resdyn_tests --gtest_filter='Exchange.*:Determinism.*' \
  >"$OUT/host-write.log" 2>&1 || { tail -n 20 "$OUT/host-write.log" >&2; fail "the host could not write its files"; }
build/resdyn quantize --model "$EXCHANGE/host/model.resdyn" --out "$EXCHANGE/host/model.rdq" >/dev/null
# The evaluations without their timing line (the last), and the integer path's logits and
# final-state checksums of 100 test digits (as make mcu compares them).
evaluate() { "$@" --data data/mnist --limit-test 2000 | sed '$d'; }
for m in resdyn rdq; do evaluate build/resdyn eval --model "$EXCHANGE/host/model.$m" >"$EXCHANGE/host/eval-$m.txt"; done
integers() {
  local out=$1
  shift
  "$@" export --model "$EXCHANGE/host/model.rdq" --format c-header --out "$out.h" --digits 100 \
    --digits-out "$out.digits.h" --expected-out "$out.expected.txt" >/dev/null
}
integers "$EXCHANGE/host/integers" build/resdyn
hashes="host $(sed -n 's/^trained net bits: //p' "$OUT/host-write.log")"

# 3. Per target: build, run the subset (reading the host's files, writing its own), then the
# host reads what the target wrote.
status=0
for t in $TARGETS; do
  triple=$(triple_of "$t")
  qemu=$(qemu_of "$t")
  build=$OUT/$t
  start=$(date +%s)
  objs=()
  for f in $TEST_FILES; do objs+=("$build/obj/tests/$f.o"); done
  mkdir -p "$build/gtest"
  # The Makefile's own rules, with this target's compiler and flags.
  if ! CXXFLAGS="-isystem $GTEST_SRC/include $(flags_of "$t")" make -s -j"$JOBS" BUILD="$build" CXX="$triple-g++" \
    NATIVE=0 OPT=-O2 "$build/resdyn" "${objs[@]}" >"$build/build.log" 2>&1; then
    tail -n 30 "$build/build.log" >&2
    echo "cross: $t: FAILED to build (see $build/build.log)" >&2
    status=1
    continue
  fi
  gtest_flags=(-std=c++17 -O2 $(flags_of "$t") -isystem "$GTEST_SRC/include" -I"$GTEST_SRC" -pthread)
  for g in gtest-all gtest_main; do
    [ -f "$build/gtest/$g.o" ] || "$triple-g++" "${gtest_flags[@]}" -c "$GTEST_SRC/src/$g.cc" -o "$build/gtest/$g.o"
  done
  mapfile -t lib < <(git ls-files ':(glob)src/*/*.cpp' | grep -v '^src/cli/main.cpp$' | sed "s|^\(.*\)\.cpp$|$build/obj/\1.o|")
  "$triple-g++" "${objs[@]}" "${lib[@]}" "$build/gtest/gtest-all.o" "$build/gtest/gtest_main.o" \
    -o "$build/resdyn_tests" -pthread
  built=$(date +%s)
  # A wrapper the shard runner can start like any test binary.
  printf '#!/bin/sh\nexec %s -L /usr/%s "%s" "$@"\n' "$qemu" "$triple" "$(realpath "$build/resdyn_tests")" \
    >"$build/run_tests"
  chmod +x "$build/run_tests"
  mkdir -p "$EXCHANGE/$t"
  log=$build/test.log
  # The program: the host's model, float and quantized, evaluated as the host did.
  program_ok=1
  for m in resdyn rdq; do
    evaluate "$qemu" -L "/usr/$triple" "$build/resdyn" eval --model "$EXCHANGE/host/model.$m" \
      >"$EXCHANGE/$t/eval-$m.txt" 2>&1 || program_ok=0
    if ! diff "$EXCHANGE/host/eval-$m.txt" "$EXCHANGE/$t/eval-$m.txt" >"$build/eval-$m.diff"; then
      echo "cross: $t: 'resdyn eval' of the host's model.$m differs from the host's (see $build/eval-$m.diff)" >&2
      program_ok=0
    fi
  done
  integers "$EXCHANGE/$t/integers" "$qemu" -L "/usr/$triple" "$build/resdyn" 2>"$build/export.err" || program_ok=0
  if ! diff "$EXCHANGE/host/integers.expected.txt" "$EXCHANGE/$t/integers.expected.txt" >"$build/integers.diff"; then
    echo "cross: $t: the integer path's logits or states differ from the host's (see $build/integers.diff)" >&2
    program_ok=0
  fi
  if [ $program_ok = 0 ]; then
    echo "cross: $t: FAILED: the program does not run the host's model alike" >&2
    status=1
    continue
  fi
  if ! RESDYN_EXCHANGE_IN=$EXCHANGE/host RESDYN_EXCHANGE_OUT=$EXCHANGE/$t \
      bash tools/run_tests.sh "$build/run_tests" --gtest_filter="-$SKIP" >"$log" 2>&1; then
    grep -E '^\[  FAILED|Failure|rror' "$log" | head -n 20 >&2 || true
    echo "cross: $t: FAILED (see $log)" >&2
    status=1
    continue
  fi
  if ! RESDYN_EXCHANGE_IN=$EXCHANGE/$t build/resdyn_tests --gtest_filter='Exchange.*' >"$build/host-read.log" 2>&1; then
    tail -n 20 "$build/host-read.log" >&2
    echo "cross: $t: FAILED: the host does not read $t's files alike (see $build/host-read.log)" >&2
    status=1
    continue
  fi
  ran=$(date +%s)
  tests=$(grep -ho '^\[       OK \]' "$log" | wc -l)
  kernels=$(sed -n 's/^kernels: //p' "$log" | head -n 1)
  hashes+=", $t $(sed -n 's/^trained net bits: //p' "$log" | head -n 1)"
  echo "cross: $t: passed: $tests tests under $qemu, host's model evaluated alike (integers bit for bit)," \
    "files exchanged both ways;" \
    "kernels: $kernels;" \
    "build $((built - start)) s, run $((ran - built)) s"
done
# Which machines trained the same bits (Determinism.SameBitsOnOneAndTwoThreads): information,
# not a verdict; the kernels and libm may round differently from one machine to another.
echo "cross: trained-net bits: $hashes"
[ $status -eq 0 ] || echo "cross: FAILED" >&2
exit $status
