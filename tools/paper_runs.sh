#!/usr/bin/env bash
# The whole reproduction: trains the networks the paper compares, runs every experiment
# that is built, and writes the report. Usage:
#   tools/paper_runs.sh small|paper|claims|quick RUNS [REPORTDIR]
# small: small nets (the README's main job; a few minutes on 2 cores).
# quick: smaller and shorter still (the claims study's default scale, run once per seed and recipe).
# paper: the paper's 15 x 1064 nets (`make paper`; within 90 minutes on 2 cores).
# claims: the study of the claims over seeds and training recipes (`make claims`): the
#   nets and analyses the claims tables need, at the CLAIMS_SCALE scale (quick, small or
#   paper; default quick), for each recipe (ours: Adam with one-pixel shifts; plain: SGD with
#   momentum 0.9 at a constant rate, no augmentation, the same epochs) and each seed of
#   CLAIMS_SEEDS (default "1 2 3"), into RUNS/claims/RECIPE/seedS; then the report of RUNS,
#   whose claims tables gain the study's columns.
# RUNS is laid out as src/report/runs_layout.h describes (directory names here must match its
# layout:: paths; the files inside each, summary.json and command.txt among them, are named in
# src/experiments/run_file_names.h); REPORTDIR defaults to RUNS/report.
# Finished steps are kept: a model that exists is not retrained (delete it to retrain), an
# experiment whose summary.json is newer than its model is not rerun. A step that fails is
# reported and the others go on; the script then exits with status 1 after the report.
# Environment: RESDYN_BIN (default build/resdyn), RESDYN_MNIST_DIR (default data/mnist);
# SHARED_FLAGS, PER_LAYER_FLAGS, MLP_FLAGS replace a scale's training flags for that net.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ] || { [ "$1" != small ] && [ "$1" != paper ] && [ "$1" != claims ] && [ "$1" != quick ]; }; then
  echo "usage: tools/paper_runs.sh small|paper|claims|quick RUNS [REPORTDIR]" >&2
  exit 2
fi
SCALE=$1
RUNS=$2
REPORT=${3:-$RUNS/report}
BIN=${RESDYN_BIN:-build/resdyn}
DATA=${RESDYN_MNIST_DIR:-data/mnist}
[ -x "$BIN" ] || { echo "paper_runs: $BIN not found (run make first)" >&2; exit 2; }

# ---- The claims study: this script once per recipe and seed, then the report ---------------
if [ "$SCALE" = claims ]; then
  CLAIMS_SCALE=${CLAIMS_SCALE:-quick}
  CLAIMS_SEEDS=${CLAIMS_SEEDS:-"1 2 3"}
  STUDY_FAILED=0
  STUDY_START=$(date +%s)
  for recipe in ours plain; do
    case $recipe in
      ours) RECIPE_FLAGS="--optimizer adam --shift 1" ;;
      plain) RECIPE_FLAGS="--optimizer sgd --momentum 0.9 --schedule constant --shift 0" ;;
    esac
    for seed in $CLAIMS_SEEDS; do
      echo "paper_runs: claims study, recipe $recipe, seed $seed ($(( $(date +%s) - STUDY_START )) s so far)"
      RUN_RECIPE="$RECIPE_FLAGS --seed $seed" RUN_CLAIMS_ONLY=1 \
        bash "$0" "$CLAIMS_SCALE" "$RUNS/claims/$recipe/seed$seed" || STUDY_FAILED=1
    done
  done
  echo "paper_runs: claims study finished in $(( $(date +%s) - STUDY_START )) s; the report:"
  "$BIN" report --runs "$RUNS" --out "$REPORT" || STUDY_FAILED=1
  exit $STUDY_FAILED
fi
# Set by the claims study for each of its runs: the recipe's training flags (appended to
# every net's), and only the steps its claims need, without a report.
RECIPE=${RUN_RECIPE:-}
CLAIMS_ONLY=${RUN_CLAIMS_ONLY:-0}

# ---- The two scales: everything that differs between them -----------------------------
if [ "$SCALE" = small ]; then
  # Each net trains on all 60,000 images; only the sizes and epochs are small.
  SHARED=${SHARED_FLAGS:-"--width 512 --depth 10 --epochs 8"}
  PER_LAYER=${PER_LAYER_FLAGS:-"--width 256 --depth 10 --epochs 3"}
  MLP=${MLP_FLAGS:-"--width 256 --depth 10 --epochs 3"}
  PRUNE_NET="--width 256 --epochs 3"  # as PER_LAYER, so the pruned net compares with it
  PRUNE_DEPTH=10
  SAMPLES=100         # test samples per class for dynamics, spectrum, embed
  SENS_SAMPLES=5      # per class for sensitivity (T LU factorisations each)
  NOISE="--limit-test 2000"
  ESTIMATE="about 5 minutes on 2 quiet cores (3 of them training)"
elif [ "$SCALE" = quick ]; then
  # The small nets at half the width (shared) and fewer epochs: depth 10 as there, so that
  # det M'(4) and det M'(10) exist.
  SHARED=${SHARED_FLAGS:-"--width 256 --depth 10 --epochs 4"}
  PER_LAYER=${PER_LAYER_FLAGS:-"--width 256 --depth 10 --epochs 2"}
  MLP=${MLP_FLAGS:-"--width 256 --depth 10 --epochs 2"}
  PRUNE_NET="--width 256 --epochs 2"
  PRUNE_DEPTH=10
  SAMPLES=50
  SENS_SAMPLES=5
  NOISE="--limit-test 1000"
  ESTIMATE="two to three minutes on 2 quiet cores"
else
  # The paper's nets (paper §6): 15 layers of 1064 units; optimiser settings and the
  # one-pixel shifts of the training images as in the README.
  SHARED=${SHARED_FLAGS:-"--width 1064 --depth 15 --epochs 20 --batch 128 --lr 5e-3 --shift 1"}
  PER_LAYER=${PER_LAYER_FLAGS:-"--width 1064 --depth 15 --epochs 20 --batch 128 --lr 5e-3 --shift 1"}
  MLP=${MLP_FLAGS:-"--width 1064 --depth 15 --epochs 20 --batch 128 --lr 1e-4 --shift 1"}
  PRUNE_NET="--width 1064 --epochs 20 --batch 128 --lr 5e-3 --shift 1 --patience 2"
  PRUNE_DEPTH=15
  SAMPLES=200
  SENS_SAMPLES=10
  NOISE=""
  ESTIMATE="under an hour on 2 cores (some 40 minutes of it training)"
fi
PRUNE="--prune-threshold 0.01"  # the paper's value (§7)

mkdir -p "$RUNS/models" "$RUNS/pruning"
START=$(date +%s)
STEP=0
TOTAL=23
FAILED=()

elapsed() { local s=$(( $(date +%s) - START )); printf '%d:%02d' $((s / 60)) $((s % 60)); }
say() { STEP=$((STEP + 1)); echo; echo "[$STEP/$TOTAL $(elapsed)] $*"; }
built() { "$BIN" "$1" --help >/dev/null 2>&1; }

# Runs a command; on success records it in DIR/command.txt (the report quotes it), on
# failure remembers the step and goes on.
run_in() {
  local dir=$1; shift
  echo "  \$ $*"
  if "$@"; then
    if [ -n "$dir" ]; then
      printf '%s\n' "$*" > "$dir/command.txt.partial" && mv "$dir/command.txt.partial" "$dir/command.txt"
    fi
  else
    echo "  FAILED (exit $?): $*" >&2
    FAILED+=("$*")
  fi
}

train() {  # train NAME_RELATIVE_TO_RUNS FLAGS...
  local model=$RUNS/$1; shift
  say "train $model"
  if [ -f "$model" ]; then echo "  exists, kept (delete it to retrain)"; return; fi
  # shellcheck disable=SC2086  # the recipe's flags are meant to split into words
  run_in "" "$BIN" train --data "$DATA" "$@" $RECIPE --out "$model"
}

# The depth a pruned run ended at: the depth column of the last row of its epoch log.
final_depth() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "depth") c = i } END { if (c) print $c }' "$1"
}

experiment() {  # experiment COMMAND RUN_DIR_RELATIVE MODEL_RELATIVE FLAGS...
  local command=$1 dir=$RUNS/$2 model=$RUNS/$3; shift 3
  say "$command $dir"
  if ! built "$command"; then echo "  skipped: 'resdyn $command' is not built yet"; return; fi
  if [ ! -f "$model" ]; then echo "  skipped: $model is missing"; return; fi
  if [ -f "$dir/summary.json" ] && [ "$dir/summary.json" -nt "$model" ]; then echo "  up to date, kept"; return; fi
  mkdir -p "$dir"
  run_in "$dir" "$BIN" "$command" --data "$DATA" --model "$model" --out "$dir" "$@"
}

echo "paper_runs: $SCALE scale into $RUNS, then the report into $REPORT."
echo "It trains up to 7 networks (shared-weight, per-layer and MLP; two with adaptive depth and two"
echo "at the pruned depth from scratch), runs the dynamics, noise, spectrum, sensitivity and"
echo "embedding experiments that are built, and writes the report: $ESTIMATE."

# ---- Networks ----------------------------------------------------------------------
# shellcheck disable=SC2086  # the flag strings are meant to split into words
train models/shared.resdyn --weights shared $SHARED
# shellcheck disable=SC2086
train models/per_layer.resdyn --weights per-layer $PER_LAYER
# shellcheck disable=SC2086
train models/mlp.resdyn --arch mlp --weights shared $MLP
# shellcheck disable=SC2086
train pruning/shared.resdyn --weights shared $PRUNE_NET --depth $PRUNE_DEPTH $PRUNE
# shellcheck disable=SC2086
train pruning/per_layer.resdyn --weights per-layer $PRUNE_NET --depth $PRUNE_DEPTH $PRUNE
# The same nets at the depth the pruner reached, from scratch: does pruning do better than
# training at that depth from the start?
for weights in shared per_layer; do
  [ "$CLAIMS_ONLY" = 1 ] && break  # no claim needs them
  log=$RUNS/pruning/$weights.resdyn.csv
  if [ -f "$log" ] && depth=$(final_depth "$log") && [ -n "$depth" ]; then
    # shellcheck disable=SC2086
    train "pruning/${weights}_fixed.resdyn" --weights "${weights/_/-}" $PRUNE_NET --depth "$depth"
  else
    say "train pruning/${weights}_fixed.resdyn"
    echo "  skipped: no epoch log with a depth column at $log"
  fi
done

# ---- Experiments (paper §6, appendices A-C) -------------------------------------------------
experiment dynamics dynamics/shared models/shared.resdyn --samples-per-class $SAMPLES
experiment dynamics dynamics/shared_unrolled models/shared.resdyn --samples-per-class $SAMPLES --unroll 1000
experiment dynamics dynamics/per_layer models/per_layer.resdyn --samples-per-class $SAMPLES
experiment dynamics dynamics/mlp models/mlp.resdyn --samples-per-class $SAMPLES
experiment dynamics dynamics/mlp_unrolled models/mlp.resdyn --samples-per-class $SAMPLES --unroll 1000
for net in shared per_layer mlp; do
  [ "$CLAIMS_ONLY" = 1 ] && [ $net = per_layer ] && continue  # the claim compares the MLP and the shared net
  # shellcheck disable=SC2086
  experiment noise noise/$net models/$net.resdyn $NOISE
done
experiment spectrum spectrum/shared models/shared.resdyn --samples-per-class $SAMPLES --unroll 1000
experiment sensitivity sensitivity/shared models/shared.resdyn --samples-per-class $SENS_SAMPLES
[ "$CLAIMS_ONLY" = 1 ] ||
  experiment sensitivity sensitivity/per_layer models/per_layer.resdyn --samples-per-class $SENS_SAMPLES
experiment embed embed/tsne_final_resnet models/shared.resdyn --method tsne --of final --samples-per-class $SAMPLES
[ "$CLAIMS_ONLY" = 1 ] ||
  experiment embed embed/tsne_final_mlp models/mlp.resdyn --method tsne --of final --samples-per-class $SAMPLES
UMAP="--method umap --of trajectory --samples-per-class $SAMPLES"
# shellcheck disable=SC2086
experiment embed embed/umap_trajectory_resnet models/shared.resdyn $UMAP
# shellcheck disable=SC2086
[ "$CLAIMS_ONLY" = 1 ] || experiment embed embed/umap_trajectory_mlp models/mlp.resdyn $UMAP

# ---- The report --------------------------------------------------------------------
if [ "$CLAIMS_ONLY" = 1 ]; then
  echo "paper_runs: $SCALE scale, claims only, finished in $(elapsed)."
  [ ${#FAILED[@]} -eq 0 ] || { printf '  failed: %s\n' "${FAILED[@]}" >&2; exit 1; }
  exit 0
fi
say "report $REPORT"
if built report; then
  run_in "" "$BIN" report --runs "$RUNS" --out "$REPORT"
else
  echo "  skipped: 'resdyn report' is not built yet"
fi

echo
echo "paper_runs: $SCALE scale finished in $(elapsed)."
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "paper_runs: ${#FAILED[@]} step(s) failed:" >&2
  printf '  %s\n' "${FAILED[@]}" >&2
  exit 1
fi
[ -f "$REPORT/index.html" ] && echo "report: $REPORT/index.html"
exit 0
