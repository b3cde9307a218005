#!/usr/bin/env bash
# The test command: install what is missing, fetch MNIST (the end-to-end tests train on it),
# check the sources' lists, format and function lengths, then build and run the whole suite
# with make, check the install and the header's use from another program, build and run the
# suite again with meson (same sources), run the quantized net on emulated Cortex-M boards and
# the numeric tests on emulated aarch64, armhf and s390x, the
# suite under sanitizers, and the small reproduction with its report checked in a browser.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
bash tools/fetch_mnist.sh
bash tools/check_build_lists.sh
# Every source formatted as .clang-format says; no function longer than a reader can hold.
bash tools/check_format.sh
bash tools/check_function_lengths.sh
make -j"$(nproc)" test
# The header installed and used by an outside program: pkg-config, and meson's subproject.
make check-install
if [ ! -f build/meson/build.ninja ]; then
  meson setup build/meson --buildtype=release >/dev/null
fi
meson test -C build/meson --print-errorlogs
# The integer path on four emulated Cortex-M boards (the whole test set), checked against the host bit for bit.
make mcu
# The program and the numeric tests cross-built for aarch64, armhf and big-endian s390x, run
# under qemu-user, with model files exchanged between the host and each.
make cross
# The suite again under AddressSanitizer and UBSan.
make test-sanitize
# The small reproduction and its report, opened in headless Chromium.
make report
