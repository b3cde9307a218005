#!/usr/bin/env bash
# make bench: resdyn's speed against the references, measured in the same run.
# The references run as fast as they can here: OpenBLAS without the machine's kernel
# overrides (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE hold it to older kernels) and PyTorch with
# OMP_WAIT_POLICY=passive (its OpenMP workers otherwise spin against OpenBLAS's threads).
# A reference that is not installed is reported as missing, not as a failure
# (Debian packages: libopenblas-dev, python3-torch).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=$(nproc)
reference=$(mktemp)
trap 'rm -f "$reference"' EXIT
if /usr/bin/python3 -c "import torch" >/dev/null 2>&1; then
  echo "measuring PyTorch ($threads threads)..."
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=passive \
    /usr/bin/python3 tools/bench_torch.py "$threads" >"$reference"
else
  echo "PyTorch not found (python3-torch): no PyTorch reference"
fi
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE build/resdyn_bench --reference "$reference"
# Peak resident memory of one epoch of full-MNIST training of the paper's nets: resdyn train
# reports its own peak (the whole process, data and checkpoints included).
if [ -f data/mnist/train-images-idx3-ubyte ] && [ -f data/mnist/t10k-images-idx3-ubyte ]; then
  echo
  echo "peak resident memory, one epoch of full-MNIST training (15 x 1064, batch 128, Adam, $threads threads):"
  scratch=$(mktemp -d)
  trap 'rm -f "$reference"; rm -rf "$scratch"' EXIT
  for weights in shared per-layer; do
    line=$(build/resdyn train --data data/mnist --weights "$weights" --width 1064 --depth 15 --epochs 1 \
      --batch 128 --lr 5e-3 --threads "$threads" --out "$scratch/$weights.resdyn" | grep '^saved')
    printf '  %-10s %s\n' "$weights" "${line#*(}" | tr -d ')'
  done
else
  echo "MNIST not found in data/mnist (make data): no training memory figure"
fi
