#!/usr/bin/env bash
# make test-sanitize: builds the whole test suite and the program with AddressSanitizer and
# UndefinedBehaviorSanitizer in build/sanitize/, then runs the suite from the repo root (where
# data/mnist is) with RESDYN_BIN pointing at the sanitized program, so the CLI tests check it
# too. Any sanitizer report, in the tests or in a program they start, fails the run.
#   SANITIZE_CXX=clang++ tools/test_sanitize.sh    build with clang (default g++)
#   JOBS=N                                          parallel compiles (default: all cores)
# Extra arguments go to the test binary, e.g. --gtest_filter=Gemm.* (it replaces the filter
# below, so --gtest_filter=* runs everything).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=build/sanitize
CXX=${SANITIZE_CXX:-g++}
JOBS=${JOBS:-$(nproc)}
# float-cast-overflow (a float out of an integer's range converted to it) is part of clang's
# "undefined" but not of gcc's, so it is named; _GLIBCXX_ASSERTIONS bounds-checks
# std::vector::operator[] and friends, which catches an index past size() but within the
# allocation, where AddressSanitizer sees nothing wrong. -g1 (line tables, no types or
# variables) is all a sanitizer's report needs for file:line, and builds in two thirds of
# the time of -g.
FLAGS="-std=c++17 -O1 -g1 -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow
       -fno-sanitize-recover=all -D_GLIBCXX_ASSERTIONS -Wall -Wextra -Werror -pthread -Iinclude -Isrc"

bash tools/install_deps.sh
bash tools/fetch_mnist.sh

# The compiler must link sanitized programs: g++ brings its sanitizer runtimes with it; clang
# needs its runtime package.
mkdir -p "$OUT"
echo 'int main() { return 0; }' >"$OUT/probe.cpp"
if ! $CXX -fsanitize=address,undefined "$OUT/probe.cpp" -o "$OUT/probe" 2>/dev/null; then
  case "$CXX" in
    *clang*) packages=(clang libclang-rt-dev) ;;
    *) packages=(g++) ;;
  esac
  if [ "$(id -u)" != 0 ]; then
    echo "resdyn: $CXX cannot build with -fsanitize=address,undefined (install: sudo apt-get install ${packages[*]})" >&2
    exit 2
  fi
  echo "installing ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# Sources: the library (every src/*/*.cpp but the program's main), the tests (tests/*.cpp but
# the library example, a program of its own; the fuzz targets under tests/fuzz/ are built by
# tools/fuzz.sh), the program's main.
lib_src=()
for f in src/*/*.cpp; do [ "$f" = src/cli/main.cpp ] || lib_src+=("$f"); done
test_src=()
for f in tests/*.cpp; do [ "$f" = tests/library_example.cpp ] || test_src+=("$f"); done

# Compiles each source whose object is missing or older than the source or anything it
# includes (the .d file the compiler writes beside the object), JOBS at a time; everything
# when the compiler or the flags changed.
if [ "$(cat "$OUT/compiler" 2>/dev/null || true)" != "$CXX $FLAGS" ]; then
  rm -rf "$OUT/obj"
  echo "$CXX $FLAGS" >"$OUT/compiler"
fi
object_of() { echo "$OUT/obj/${1%.cpp}.o"; }
is_stale() {
  local src=$1 obj dep f
  obj=$(object_of "$src")
  dep="${obj%.o}.d"
  [ -f "$obj" ] && [ -f "$dep" ] || return 0
  # The .d file: "OBJ: SRC HEADER... \" lines, then one "HEADER:" line per header.
  for f in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$dep"); do
    [ -f "$f" ] && [ "$f" -nt "$obj" ] && return 0
  done
  return 1
}
stale=()
for src in "${lib_src[@]}" "${test_src[@]}" src/cli/main.cpp; do
  if is_stale "$src"; then stale+=("$src"); fi
done
if [ ${#stale[@]} -gt 0 ]; then
  echo "compiling ${#stale[@]} files with sanitizers ($JOBS at a time)"
  export CXX FLAGS OUT
  printf '%s\n' "${stale[@]}" | xargs -P "$JOBS" -I{} sh -c '
    obj="$OUT/obj/$(echo {} | sed "s/\.cpp$//").o"
    mkdir -p "$(dirname "$obj")"
    $CXX $FLAGS -MMD -MP -c {} -o "$obj" || { echo "resdyn: compiling {} failed" >&2; exit 255; }'
fi

lib_obj=(); for f in "${lib_src[@]}"; do lib_obj+=("$(object_of "$f")"); done
test_obj=(); for f in "${test_src[@]}"; do test_obj+=("$(object_of "$f")"); done
echo "linking $OUT/resdyn and $OUT/resdyn_tests"
# shellcheck disable=SC2086
$CXX $FLAGS "$(object_of src/cli/main.cpp)" "${lib_obj[@]}" -o "$OUT/resdyn"
# shellcheck disable=SC2086
$CXX $FLAGS "${test_obj[@]}" "${lib_obj[@]}" -lgtest -lgtest_main -o "$OUT/resdyn_tests"

# A report fails the process that makes it. AddressSanitizer reports (and clang's
# UndefinedBehaviorSanitizer reports; gcc's always go to stderr) are written to files here,
# so one from a program a CLI test starts is shown even if the test does not print it.
logs="$PWD/$OUT/reports"
rm -rf "$logs"
mkdir -p "$logs"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1}:log_path=$logs/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}:log_path=$logs/ubsan"
# Left out: the long runs the normal suite already makes of the same code, where sanitizers
# would mostly measure their own slowness (each took from half a minute to ten minutes here,
# a third of the whole test command):
# - the crash sequences (a dozen processes each; the sanitized program still trains, saves a
#   checkpoint at a SIGINT and resumes in the other Checkpoint tests);
# - the pinned-model trainings (ten runs; without -march=native only their agreement across
#   threads is checked);
# - the trainings and evaluations on MNIST: the two accuracy trainings, every variant's bf16
#   training beside its float twin (bf16's products and gradients run in the Bfloat16 and
#   Bfloat16Gemm tests and the bf16 checkpoint test), the quantized net's
#   accuracy against the float net's, Q15.16 training against float training, the noise
#   probes of a net trained for them (the noise code runs in the NoiseRobustness tests);
# - packed weights on the paper's 15 x 1064 net (a thousand images through the portable
#   kernel): the same packing, tiles and edges run on the smaller nets of the other Forward
#   and Gemm tests.
# Every unit test on small shapes, every other numeric test and every hostile-input CLI test
# still runs.
SKIP='Checkpoint.KilledAtEachPhase*:Checkpoint.KilledFromOutside*:Checkpoint.Sigint*:PinnedModels.*'
SKIP+=':RealMnist.*LearnsDigits:TrainedOnMnist.*:FixedPoint.QuantizedMnistAccuracyMatchesFloat'
SKIP+=':FixedPoint.FixedPointTrainingTracksFloatTraining:Forward.PackedWeightsGiveTheSameBitsOnThePaperNet'
SKIP+=':Bfloat16Training.EveryVariantLearnsDigits*'
echo "running $OUT/resdyn_tests (leaving out $SKIP)"
status=0
RESDYN_BIN="$OUT/resdyn" bash tools/run_tests.sh "$OUT/resdyn_tests" --gtest_filter="-$SKIP" "$@" || status=$?
if [ -n "$(ls -A "$logs")" ]; then
  for report in "$logs"/*; do
    echo "=== sanitizer report $report" >&2
    cat "$report" >&2
  done
  status=1
fi
if [ "$status" != 0 ]; then
  echo "resdyn: sanitized test suite failed (exit $status)" >&2
fi
exit "$status"
