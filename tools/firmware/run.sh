#!/usr/bin/env bash
# The firmware test ('make mcu'): trains a small shared-weight ResNet, quantizes and exports it as
# a C header with 100 MNIST test digits, builds the firmware for two Cortex-M boards that QEMU
# emulates (mps2-an386: Cortex-M4F; mps2-an385: Cortex-M3, no FPU), runs each under
# qemu-system-arm and checks that every line it prints (prediction, logits, final-state checksum
# of each digit, accuracy) equals the host's integer path. Prints flash/RAM use and instructions
# per inference. Installs the Debian packages it lacks (needs root). Exits non-zero on any failure.
#   RESDYN_BIN   host program (default build/resdyn, built with make if missing)
#   MCU_DIGITS   how many test digits to embed (default 100)
#   MCU_OUT      where the model, the generated headers and the images go (default build/mcu)
#   MCU_INCLUDE  the directory holding resdyn.h (default include)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${MCU_OUT:-build/mcu}
INCLUDE=${MCU_INCLUDE:-include}
RESDYN=${RESDYN_BIN:-build/resdyn}
DIGITS=${MCU_DIGITS:-100}
fail() { echo "mcu: $*" >&2; exit 1; }

# 1. Toolchain and emulator.
need=()
command -v arm-none-eabi-g++ >/dev/null 2>&1 || need+=(gcc-arm-none-eabi)
[ -f /usr/lib/arm-none-eabi/include/stdint.h ] || need+=(libnewlib-arm-none-eabi)
[ -d /usr/include/newlib/c++ ] || need+=(libstdc++-arm-none-eabi-dev)
command -v qemu-system-arm >/dev/null 2>&1 || need+=(qemu-system-arm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "mcu: missing packages: ${need[*]} (install them with: sudo apt-get install ${need[*]})" >&2
    exit 2
  fi
  echo "mcu: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. The host side: program, data, model, exported header, digits and expected results.
if [ -z "${RESDYN_BIN:-}" ]; then make -s build/resdyn; fi
[ -x "$RESDYN" ] || fail "$RESDYN is not an executable"
[ -f data/mnist/t10k-labels-idx1-ubyte ] || [ -f data/mnist/t10k-labels-idx1-ubyte.gz ] || bash tools/fetch_mnist.sh
mkdir -p "$OUT"
if [ ! -f "$OUT/model.resdyn" ]; then
  "$RESDYN" train --width 128 --depth 6 --epochs 3 --seed 1 --out "$OUT/model.resdyn" | grep -v '^ ' | tail -n 3
fi
"$RESDYN" quantize --model "$OUT/model.resdyn" --out "$OUT/model.rdq" >/dev/null
"$RESDYN" export --model "$OUT/model.rdq" --format c-header --out "$OUT/model.h" \
  --digits "$DIGITS" --digits-out "$OUT/digits.h" --expected-out "$OUT/expected.txt" >/dev/null

# 3. Build, size, run and compare, per board.
CXXFLAGS=(-std=c++17 -O2 -Wall -Wextra -Werror -fno-exceptions -fno-rtti -fno-threadsafe-statics
          -fno-use-cxa-atexit -ffunction-sections -fdata-sections -I"$INCLUDE" -Itools/firmware -I"$OUT")
status=0
for board in mps2-an386 mps2-an385; do
  case $board in
    mps2-an386) cpu=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16) ;;
    mps2-an385) cpu=(-mcpu=cortex-m3 -mthumb -mfloat-abi=soft) ;;
  esac
  elf="$OUT/firmware-$board.elf"
  arm-none-eabi-gcc "${cpu[@]}" -std=c11 -O2 -Wall -Wextra -Werror -ffreestanding -Itools/firmware \
    -c tools/firmware/startup.c -o "$OUT/startup-$board.o"
  arm-none-eabi-g++ "${cpu[@]}" "${CXXFLAGS[@]}" -c tools/firmware/main.cpp -o "$OUT/main-$board.o"
  arm-none-eabi-gcc "${cpu[@]}" -nostdlib -T tools/firmware/mps2.ld -Wl,--gc-sections \
    "$OUT/startup-$board.o" "$OUT/main-$board.o" -lgcc -o "$elf"
  # Flash: code + constants + .data's initial values; RAM: .data + .bss + stack (digits aside).
  read -r text init data bss stack digits < <(arm-none-eabi-size -A "$elf" | awk '
    $1==".text"{t=$2} $1==".init_array"{i=$2} $1==".data"{d=$2} $1==".bss"{b=$2} $1==".stack"{s=$2} $1==".digits"{g=$2}
    END{print t+0, i+0, d+0, b+0, s+0, g+0}')
  echo "mcu: $board: flash $((text + init + data)) of 262144 bytes, RAM $((data + bss + stack)) of 65536 bytes" \
       "(stack $stack), digits $digits bytes"
  arm-none-eabi-size "$elf" | sed 's/^/mcu:   /'
  log="$OUT/firmware-$board.out"
  rc=0
  timeout 300 qemu-system-arm -M "$board" -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift=6 -kernel "$elf" </dev/null >"$log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    echo "mcu: $board: firmware exited with status $rc (124: timeout)" >&2
    tail -n 5 "$log" >&2
    status=1
    continue
  fi
  if ! diff <(grep -E '^(digit|accuracy) ' "$log") "$OUT/expected.txt" >"$OUT/firmware-$board.diff"; then
    echo "mcu: $board: firmware and host integer path differ (see $OUT/firmware-$board.diff):" >&2
    head -n 6 "$OUT/firmware-$board.diff" >&2
    status=1
    continue
  fi
  echo "mcu: $board: $(grep -c '^digit ' "$log") digits, every prediction, logit and state checksum equals the host's;" \
       "$(grep '^accuracy' "$log")"
  grep '^cost' "$log" | sed "s/^cost/mcu: $board:/"
done
[ $status -eq 0 ] && echo "mcu: passed" || echo "mcu: FAILED" >&2
exit $status
