#!/usr/bin/env bash
# The best net per flash budget ('make mcu-budget'): for each flash budget (RAM 64 KiB) and each
# family (shared-weight ResNet, per-layer ResNet, MLP), a small sweep of shapes whose int8 image
# fits, each trained, quantized, exported and run on one board on the MNIST test set by run.sh
# (the device's every line equal to the host's integer path). The shapes: for each depth of a
# family's list, the widest width (a multiple of 4) that the linker accepts, code and weights
# counted: an estimate from the shape gives the first width tried, and every width is linked
# (after a training on 256 images, since the image's size does not depend on the weights'
# values) before the real training, moving by 4 until the next width up does not link; each
# width that does not link is reported as not fitting. Writes every candidate (results.csv),
# the lowest device test error per budget and family with its shape (best.md, best.csv) and
# every candidate that ran (all.md) to the output folder.
#   RESDYN_BIN          host program (default build/resdyn, built with make if missing)
#   MCU_BUDGET_FLASH    the flash budgets in KiB (default "64 256 1024")
#   MCU_BUDGET_RAM      the RAM budget in KiB (default 64)
#   MCU_BUDGET_EPOCHS   training epochs of each candidate (default 20: the README's recipe)
#   MCU_BUDGET_BOARD    the board (default mps2-an386, the Cortex-M4F; see run.sh for others)
#   MCU_BUDGET_JOBS     candidates trained and run at once (default 2; each trains on 1 thread)
#   MCU_BUDGET_OUT      the output folder (default build/mcu-budget)
#   MCU_IMAGES          test images run on the device (default all 10000)
#   MCU_BUDGET_TABLES_ONLY  if set, only the tables again, from the candidates in the output
#                       folder that finished (after an interrupted run)
set -euo pipefail
cd "$(dirname "$0")/../.."
RESDYN=${RESDYN_BIN:-build/resdyn}
FLASH_BUDGETS=${MCU_BUDGET_FLASH:-64 256 1024}
RAM_KIB=${MCU_BUDGET_RAM:-64}
EPOCHS=${MCU_BUDGET_EPOCHS:-20}
BOARD=${MCU_BUDGET_BOARD:-mps2-an386}
JOBS=${MCU_BUDGET_JOBS:-2}
OUT=${MCU_BUDGET_OUT:-build/mcu-budget}
IMAGES=${MCU_IMAGES:-10000}
# Depths swept per family. A shared net's depth costs no flash, only time; a per-layer net or an
# MLP pays N*N bytes a layer, so its widest width falls as it deepens.
declare -A DEPTHS=([shared]="2 4 8" [per-layer]="1 2 4" [mlp]="1 2 4")
FAMILIES="shared per-layer mlp"
CODE_GUESS=24576  # bytes of code and tables assumed for the first width tried (the linker decides)
fail() { echo "mcu-budget: $*" >&2; exit 1; }

if [ -z "${RESDYN_BIN:-}" ]; then make -s build/resdyn; fi
[ -x "$RESDYN" ] || fail "$RESDYN is not an executable"
mkdir -p "$OUT"

# The training flags of a family: the README's recipe (Adam, peak rate 5e-3, cosine decay, batch
# 128, one-pixel shifts). The MLP takes the same rate: its 1e-4 is for 15 layers, and these are
# shallow (README: the budget table).
family_flags() {
  case $1 in
    shared) echo "--weights shared" ;;
    per-layer) echo "--weights per-layer" ;;
    mlp) echo "--arch mlp --weights per-layer" ;;
  esac
}
train() {  # family width depth out epochs [extra flags]
  local family=$1 width=$2 depth=$3 out=$4 epochs=$5
  shift 5
  # shellcheck disable=SC2046
  "$RESDYN" train $(family_flags "$family") --width "$width" --depth "$depth" --epochs "$epochs" --batch 128 \
    --lr 5e-3 --shift 1 --seed 1 --threads 1 --out "$out" "$@"
}

# Bytes of a net's constants in the firmware: each matrix in the device layout (rows padded to
# 4, columns to 8: resdyn.h's device_weights_size) and, per row, its int32 multiplier, int8
# shift and int32 bias. The stem (784 -> N), the layers (one block, or one per layer), the
# classifier (N -> 10).
matrix_bytes() { echo $((($1 + 3) / 4 * 4 * (($2 + 7) / 8 * 8) + 9 * $1)); }
param_bytes() {  # family width depth
  local blocks=1
  [ "$1" = shared ] || blocks=$3
  echo $(($(matrix_bytes "$2" 784) + blocks * $(matrix_bytes "$2" "$2") + $(matrix_bytes 10 "$2")))
}
# The widest multiple of 4 whose constants and CODE_GUESS fit the budget (at most 780: 784 would
# drop the stem, a different net).
first_width() {  # family depth budget_bytes
  local n=4
  while [ $((n + 4)) -le 780 ] && [ $(($(param_bytes "$1" $((n + 4)) "$2") + CODE_GUESS)) -le "$3" ]; do n=$((n + 4)); done
  echo $n
}

# Runs run.sh for a model on the board; its report in $2/report.txt, its errors in $2/errors.txt.
# Status: 0 passed, 3 does not fit (the linker's "region ... overflowed"), 1 another failure.
device_run() {  # model dir flash_kib images cost_images
  local rc=0
  MCU_MODEL=$1 MCU_OUT=$2 MCU_FLASH=$3 MCU_RAM=$RAM_KIB MCU_BOARDS=$BOARD MCU_IMAGES=$4 MCU_COST_IMAGES=$5 \
    RESDYN_BIN=$RESDYN bash tools/firmware/run.sh >"$2/report.txt" 2>"$2/errors.txt" || rc=$?
  [ $rc -eq 0 ] && return 0
  grep -q "region .* overflowed" "$2/errors.txt" && return 3
  return 1
}
report_field() {  # report.txt sed-expression
  sed -n "$2" "$1" | head -n 1
}
flash_used() { report_field "$1" 's/.*: flash \([0-9]*\) of .*/\1/p'; }
ram_used() { report_field "$1" 's/.*, RAM \([0-9]*\) of .*/\1/p'; }

CSV=$OUT/results.csv
# 1. The shapes: per budget, family and depth, the widest width that links (probes in $OUT/probe):
# from the first width, up while the next one links, or down until one does. Each one that does
# not link is a row of results.csv.
links() {  # flash family width depth -> 0 links, 1 does not fit
  local flash=$1 family=$2 width=$3 depth=$4 dir=$OUT/probe/$1-$2-$3x$4 rc=0
  mkdir -p "$dir"
  train "$family" "$width" "$depth" "$dir/model.resdyn" 1 --limit-train 256 --limit-test 100 >/dev/null
  device_run "$dir/model.resdyn" "$dir" "$flash" 1 1 || rc=$?
  [ $rc -eq 0 ] && return 0
  [ $rc -eq 3 ] || { cat "$dir/errors.txt" >&2; fail "$flash KiB, $family ${width}x$depth: the probe failed (see $dir)"; }
  echo "mcu-budget: $flash KiB, $family ${width}x$depth: does not fit ($(grep -o "region .* overflowed by [0-9]* bytes" "$dir/errors.txt" | head -n 1))"
  echo "$flash,$family,$width,$depth,does not fit,$(param_bytes "$family" "$width" "$depth"),,,,,,," >>"$CSV"
  return 1
}
plan=()
choose_shapes() {
  local flash family depth width
  for flash in $FLASH_BUDGETS; do
    for family in $FAMILIES; do
      for depth in ${DEPTHS[$family]}; do
        width=$(first_width "$family" "$depth" $((flash * 1024)))
        if links "$flash" "$family" "$width" "$depth"; then
          while [ $((width + 4)) -le 780 ] && links "$flash" "$family" $((width + 4)) "$depth"; do width=$((width + 4)); done
        else
          while width=$((width - 4)) && [ $width -ge 4 ] && ! links "$flash" "$family" "$width" "$depth"; do :; done
        fi
        if [ "$width" -ge 4 ]; then
          echo "mcu-budget: $flash KiB, $family: ${width}x$depth is the widest that links at depth $depth"
          plan+=("$flash $family $width $depth")
        fi
      done
    done
  done
}

# 2. Each shape trained at full length and run on the whole test set, JOBS at a time.
candidate() {  # flash family width depth
  local flash=$1 family=$2 width=$3 depth=$4 dir=$OUT/$1-$2-$3x$4 rc=0
  mkdir -p "$dir"
  train "$family" "$width" "$depth" "$dir/model.resdyn" "$EPOCHS" >"$dir/train.txt" 2>&1 || {
    tail -n 3 "$dir/train.txt" >&2
    return 1
  }
  device_run "$dir/model.resdyn" "$dir" "$flash" "$IMAGES" 10 || rc=$?
  local params float status=passed errors="" pct="" flash_b ram_b instr
  params=$(param_bytes "$family" "$width" "$depth")
  float=$(sed -n 's/^test error \([0-9.]*\)%.*/\1/p' "$dir/train.txt")
  if [ $rc -eq 3 ]; then status="does not fit"; elif [ $rc -ne 0 ]; then status=failed; fi
  flash_b=$(flash_used "$dir/report.txt") ram_b=$(ram_used "$dir/report.txt")
  instr=$(report_field "$dir/report.txt" 's/.*: \([0-9]*\) instructions per inference.*/\1/p')
  errors=$(report_field "$dir/report.txt" 's/.*test error [0-9.]*% (\([0-9]*\) of .*/\1/p')
  pct=$(report_field "$dir/report.txt" 's/.*test error \([0-9.]*\)% (.*/\1/p')
  # The estimate is the weights' share of the image: it cannot exceed what the linker placed.
  if [ -n "$flash_b" ] && [ "$params" -gt "$flash_b" ]; then status="failed: constants estimated above the image"; fi
  echo "$flash,$family,$width,$depth,$status,$params,$flash_b,$ram_b,$errors,$IMAGES,$pct,$float,$instr" >"$dir/row.csv"
  echo "mcu-budget: $flash KiB, $family ${width}x$depth: $status; device test error ${pct:-?}% (float ${float:-?}%), flash ${flash_b:-?}, RAM ${ram_b:-?}"
  [ "$status" = passed ]
}

status=0
run_candidates() {
  local running=0 job flash family width depth
  for job in "${plan[@]}"; do
    if [ $running -ge "$JOBS" ]; then
      wait -n || status=1
      running=$((running - 1))
    fi
    # shellcheck disable=SC2086
    candidate $job &
    running=$((running + 1))
  done
  while [ $running -gt 0 ]; do
    wait -n || status=1
    running=$((running - 1))
  done
  for job in "${plan[@]}"; do
    read -r flash family width depth <<<"$job"
    cat "$OUT/$flash-$family-${width}x$depth/row.csv" >>"$CSV" 2>/dev/null || status=1
  done
}

if [ -z "${MCU_BUDGET_TABLES_ONLY:-}" ]; then
  rm -rf "$OUT/probe" "$OUT"/[0-9]*-*x*/
  echo "flash_kib,family,width,depth,status,param_bytes,flash_bytes,ram_bytes,device_errors,images,device_error_pct,float_error_pct,instructions_per_inference" >"$CSV"
  choose_shapes
  run_candidates
else  # the tables again from the shapes that did not fit and the candidates that finished
  [ -f "$CSV" ] || fail "no $CSV to make the tables from"
  { head -n 1 "$CSV"; awk -F, '$5 == "does not fit"' "$CSV"; cat "$OUT"/[0-9]*-*x*/row.csv 2>/dev/null | sort -t, -k1,1n -k2,2 -k4,4n || :; } >"$CSV.new"
  mv "$CSV.new" "$CSV"
fi

# 3. The lowest device test error per budget and family (ties: the smaller image).
head -n 1 "$CSV" >"$OUT/best.csv"
{
  echo "| flash budget | family | shape (width x depth) | device test error | float | flash bytes | RAM bytes | instructions per inference |"
  echo "|---|---|---|---|---|---|---|---|"
  for flash in $FLASH_BUDGETS; do
    for family in $FAMILIES; do
      row=$(awk -F, -v f="$flash" -v m="$family" '$1 == f && $2 == m && $5 == "passed"' "$CSV" |
        sort -t, -k9,9n -k7,7n | head -n 1)
      if [ -z "$row" ]; then
        echo "| $flash KiB | $family | no candidate passed | | | | | |"
        continue
      fi
      echo "$row" >>"$OUT/best.csv"
      IFS=, read -r _ _ width depth _ _ flash_b ram_b errors images pct float instr <<<"$row"
      echo "| $flash KiB | $family | $width x $depth | $pct % ($errors of $images) | $float % | $flash_b | $ram_b | $instr |"
    done
  done
} >"$OUT/best.md"
# Every candidate that ran, in the same columns.
{
  echo "| flash budget | family | shape (width x depth) | device test error | float | flash bytes | RAM bytes | instructions per inference |"
  echo "|---|---|---|---|---|---|---|---|"
  awk -F, 'NR > 1 && $5 != "does not fit" {
    printf "| %s KiB | %s | %s x %s | %s %% (%s of %s) | %s %% | %s | %s | %s |\n", $1, $2, $3, $4, $11, $9, $10, $12, $7, $8, $13
  }' "$CSV"
} >"$OUT/all.md"
if [ -z "${MCU_BUDGET_TABLES_ONLY:-}" ]; then
  echo "mcu-budget: $BOARD, RAM $RAM_KIB KiB, $EPOCHS epochs, $IMAGES images, $((SECONDS / 60)) min $((SECONDS % 60)) s;" \
    "every candidate in $CSV"
else
  echo "mcu-budget: the tables from the candidates that finished in $OUT; every candidate in $CSV"
fi
cat "$OUT/best.md"
[ $status -eq 0 ] && echo "mcu-budget: passed" || echo "mcu-budget: FAILED" >&2
exit $status
