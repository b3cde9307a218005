#!/usr/bin/env bash
# Runs a GoogleTest binary as SHARDS processes at once (GoogleTest's own sharding: each test
# runs in exactly one shard), each with a temporary directory of its own, so that tests which
# write fixed names there never meet. Prints each shard's output in turn when all are done,
# and fails when any shard fails. Usage:
#   tools/run_tests.sh TEST_BINARY [GTEST_ARGS...]
#   SHARDS=N   processes (default: the number of cores, at most 4)
# No verdict depends on the shards' timing: they share no files, and no test compares times.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: tools/run_tests.sh TEST_BINARY [GTEST_ARGS...] (a GoogleTest program)" >&2
  exit 2
fi
BIN=$1
shift
cores=$(nproc)
SHARDS=${SHARDS:-$((cores < 4 ? cores : 4))}
case $SHARDS in '' | *[!0-9]* | 0)
  echo "run_tests: SHARDS must be a positive number, not '$SHARDS'" >&2
  exit 2
  ;;
esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/resdyn-tests.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for ((i = 0; i < SHARDS; i++)); do
  mkdir -p "$WORK/tmp$i"
  GTEST_TOTAL_SHARDS=$SHARDS GTEST_SHARD_INDEX=$i TEST_TMPDIR="$WORK/tmp$i" TMPDIR="$WORK/tmp$i" \
    "$BIN" "$@" >"$WORK/log$i" 2>&1 &
  pids+=($!)
done

failed=0
for ((i = 0; i < SHARDS; i++)); do
  status=0
  wait "${pids[$i]}" || status=$?
  echo "=== shard $((i + 1)) of $SHARDS (exit $status)"
  cat "$WORK/log$i"
  [ "$status" = 0 ] || failed=$((failed + 1))
done
pids=()
if [ "$failed" != 0 ]; then
  echo "run_tests: $failed of $SHARDS shards of $BIN failed" >&2
  exit 1
fi
echo "run_tests: all $SHARDS shards of $BIN passed"
