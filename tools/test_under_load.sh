#!/usr/bin/env bash
# make test-under-load: runs the crash, checkpoint and signal tests (and the thread pool's slow
# paths) N times while K processes busy-loop on the CPUs, so a test whose verdict depends on
# the machine's speed shows it; prints "P of N passed" and fails unless all passed.
#   tools/test_under_load.sh [N] [K]     N runs (default 20), K busy loops (default 3)
#   FILTER=...                           another gtest filter (default below)
#   BUILD=dir                            where resdyn and resdyn_tests are (default build)
# The busy loops are started here and always killed here, however the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-20}
BUSY=${2:-3}
FILTER=${FILTER:-'Checkpoint.*:ThreadPool.*'}
BUILD=${BUILD:-build}
for n in "$RUNS" "$BUSY"; do
  case "$n" in
    '' | *[!0-9]*) echo "usage: tools/test_under_load.sh [RUNS] [BUSY_LOOPS] (whole numbers)" >&2; exit 2 ;;
  esac
done
for bin in "$BUILD/resdyn" "$BUILD/resdyn_tests"; do
  if [ ! -x "$bin" ]; then
    echo "resdyn: $bin is missing (make $bin, or make test-under-load)" >&2
    exit 2
  fi
done

# The busy loops and the test run in progress, stopped by their ids on any exit; the tests
# run in the background and are waited for, so a signal is handled at once.
busy=()
tests_pid=
stop_all() {
  for pid in "${busy[@]}" $tests_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in "${busy[@]}" $tests_pid; do wait "$pid" 2>/dev/null || true; done
  busy=()
  tests_pid=
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
for ((i = 0; i < BUSY; ++i)); do
  sh -c 'while :; do :; done' &
  busy+=("$!")
done

logs="$BUILD/under_load"
rm -rf "$logs"
mkdir -p "$logs"
echo "running '$FILTER' $RUNS times beside $BUSY busy loops on $(nproc) cores"
passed=0
for ((run = 1; run <= RUNS; ++run)); do
  log="$logs/run$run.log"
  # A pass runs at least one test: a filter that matches none is a failure, not a pass.
  RESDYN_BIN="$BUILD/resdyn" "$BUILD/resdyn_tests" --gtest_filter="$FILTER" >"$log" 2>&1 &
  tests_pid=$!
  status=0
  wait "$tests_pid" || status=$?
  tests_pid=
  if [ "$status" = 0 ] && grep -q '^\[  PASSED  \] [1-9]' "$log"; then
    passed=$((passed + 1))
    echo "run $run: passed ($(grep -o "[0-9]* ms total" "$log" | tail -1 || true))"
  else
    echo "run $run: FAILED (log: $log)"
    { grep -E '^\[  FAILED  \]|Failure|Expected|actual' "$log" || true; } | sed -n 1,12p | sed 's/^/  /'
  fi
done
echo "$passed of $RUNS passed"
[ "$passed" = "$RUNS" ]
