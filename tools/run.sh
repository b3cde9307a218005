#!/usr/bin/env bash
# The main job: install what is missing, fetch MNIST, build, train the default network
# (a shared-weight ResNet with stem, 10 layers of 512 units, 8 epochs) and evaluate it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
make -j"$(nproc)" run
