#!/usr/bin/env bash
# The main job: install what is missing, fetch MNIST, build, and run the small reproduction:
# the default network first (a shared-weight ResNet with stem, 10 layers of 512 units,
# 8 epochs), the other small nets, every analysis, and the HTML report, whose path it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
make -j"$(nproc)" run
