#!/usr/bin/env bash
# The test command: install what is missing, fetch MNIST (the end-to-end tests train on it),
# then build and run the whole suite with make and again with meson (same sources), and run
# the quantised net on an emulated Cortex-M.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
bash tools/fetch_mnist.sh
bash tools/check_build_lists.sh
make -j"$(nproc)" test
if [ ! -f build/meson/build.ninja ]; then
  meson setup build/meson --buildtype=release >/dev/null
fi
meson test -C build/meson --print-errorlogs
# The integer path on an emulated Cortex-M, checked against the host bit for bit.
make mcu
