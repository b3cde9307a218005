#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ (clang, AddressSanitizer and
# UndefinedBehaviorSanitizer) and runs each for a given time.
#   tools/fuzz.sh [SECONDS] [TARGET...]   run each target SECONDS (default 60) seconds;
#                                         targets: idx gunzip model flags (default all)
#   tools/fuzz.sh --seeds                 rewrite the committed seed corpus tests/fuzz/corpus/
# Each target reads its seeds from tests/fuzz/corpus/NAME/ (and the words of
# tests/fuzz/NAME.dict, if there is one) and keeps what it discovers in
# build/fuzz/corpus/NAME/, so later runs continue from there. A crashing input is saved as
# build/fuzz/crashes/NAME-crash-*; then the script fails after running the other targets.
# Every crash becomes a regression test in tests/test_fuzz_regressions.cpp.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_TARGETS=(idx gunzip model flags)
OUT=build/fuzz
CXX=${FUZZ_CXX:-clang++}
FLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -pthread -Iinclude -Isrc
       -fsanitize=address,undefined -fno-sanitize-recover=all)

# clang and its sanitizer and fuzzer runtimes, installed by package name when missing.
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
  >"$probe_dir/probe.cpp"
if ! "$CXX" -fsanitize=fuzzer,address,undefined "$probe_dir/probe.cpp" -o "$probe_dir/probe" 2>/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "resdyn: $CXX cannot build libFuzzer targets (install them with: sudo apt-get install clang libclang-rt-dev)" >&2
    exit 2
  fi
  echo "installing clang libclang-rt-dev"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends clang libclang-rt-dev >/dev/null
fi

if [ "${1:-}" = "--seeds" ]; then
  mkdir -p "$OUT/seeds" tests/fuzz/corpus/{idx,gunzip,model,flags}
  "$CXX" -std=c++17 -O1 -Wall -Wextra -Werror -Iinclude tests/fuzz/make_seeds.cpp -o "$OUT/make_seeds"
  "$OUT/make_seeds" tests/fuzz/corpus "$OUT/seeds"
  # gzip picks the block type itself: dynamic Huffman for the text, fixed for the images and
  # labels, stored for random bytes; the file name (FNAME) is kept in one of them.
  for raw in epoch_log ring_images labels random empty; do
    gzip -9 -n -c "$OUT/seeds/$raw.raw" >"tests/fuzz/corpus/gunzip/$raw.gz"
  done
  touch -d '2000-01-01 00:00 UTC' "$OUT/seeds/labels.raw"  # gzip records it (MTIME)
  (cd "$OUT/seeds" && gzip -1 -c labels.raw) >tests/fuzz/corpus/gunzip/labels_with_name.gz
  cat tests/fuzz/corpus/gunzip/labels.gz tests/fuzz/corpus/gunzip/random.gz >tests/fuzz/corpus/gunzip/two_members.gz
  echo "wrote tests/fuzz/corpus/"
  exit 0
fi

SECONDS_EACH=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
case "$SECONDS_EACH" in
  '' | *[!0-9]*) echo "usage: tools/fuzz.sh [SECONDS] [TARGET...] | --seeds" >&2; exit 2 ;;
esac

# What the targets link besides the header: its compiled part, the flag parser and `resdyn train`'s file
# (for train_spec) with what that file uses. Built instrumented for coverage; an object is
# rebuilt when its source or any header is newer.
LIB_SRC=(src/core/resdyn_implementation.cpp src/cli/flags.cpp src/cli/common.cpp src/cli/progress.cpp src/cli/train_command.cpp src/output/csv.cpp
         src/output/json.cpp)
mkdir -p "$OUT/obj" "$OUT/crashes"
objects=()
for src in "${LIB_SRC[@]}"; do
  obj="$OUT/obj/$(echo "${src%.cpp}" | tr / _).o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find include src -name '*.h' -newer "$obj" | sed -n 1p)" ]; then
    echo "compiling $src"
    "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  fi
  objects+=("$obj")
done
rm -f "$OUT/libresdyn.a"
ar rcs "$OUT/libresdyn.a" "${objects[@]}"

failed=()
summary=()
for name in "${TARGETS[@]}"; do
  if [ ! -f "tests/fuzz/fuzz_$name.cpp" ]; then
    echo "resdyn: no fuzz target '$name' (targets: ${ALL_TARGETS[*]})" >&2
    exit 2
  fi
  echo "building fuzz_$name"
  "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer "tests/fuzz/fuzz_$name.cpp" "$OUT/libresdyn.a" -o "$OUT/fuzz_$name"
  mkdir -p "$OUT/corpus/$name"
  echo "running fuzz_$name for $SECONDS_EACH s"
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  status=0
  "$OUT/fuzz_$name" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$OUT/crashes/$name-" "${dict[@]}" "$OUT/corpus/$name" "tests/fuzz/corpus/$name" \
    >"$OUT/$name.log" 2>&1 || status=$?
  last=$(grep -E '^#[0-9]+' "$OUT/$name.log" | tail -1 || true)
  runs=$(grep -E '^stat::number_of_executed_units' "$OUT/$name.log" | awk '{print $2}' || true)
  summary+=("$(printf '%-7s %s executions; last status: %s' "$name" "${runs:-?}" "$last")")
  if [ "$status" != 0 ]; then
    failed+=("$name")
    echo "fuzz_$name FAILED (exit $status); log: $OUT/$name.log" >&2
    grep -E 'ERROR|SUMMARY|fuzz_[a-z]+:|Test unit written' "$OUT/$name.log" | sed -n 1,20p >&2 || true
  fi
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "resdyn: fuzz targets failed: ${failed[*]} (inputs in $OUT/crashes/)" >&2
  exit 1
fi
