#!/usr/bin/env bash
# The firmware test ('make mcu'): trains a small shared-weight ResNet, quantizes and exports it as
# a C header, builds the firmware for four Cortex-M boards that QEMU emulates, and runs each on
# the whole MNIST test set, which the firmware reads from the host's files through semihosting.
# Every line it writes (prediction, logits and final-state checksum of each image, then the
# accuracy) must equal the host's integer path. Prints per board the test error, instructions
# per inference and per multiply-accumulate (MAC), flash and RAM. Installs the Debian packages
# it lacks (needs root). Exits non-zero on any failure.
#   RESDYN_BIN   host program (default build/resdyn, built with make if missing)
#   MCU_MODEL    the float model to export (default: trained here into MCU_OUT/model.resdyn)
#   MCU_IMAGES   how many test images each board runs (default all 10000)
#   MCU_COST_IMAGES  on how many of them instructions are counted (default 100; -icount is slow)
#   MCU_BOARDS   which boards (default: microbit mps2-an385 mps2-an386 mps3-an547)
#   MCU_FLASH    the flash budget in KiB (default 256; the micro:bit has 256 KiB)
#   MCU_RAM      the RAM budget in KiB (default 64; the micro:bit has 16 KiB)
#   MCU_OUT      where the model, the generated files and the images go (default build/mcu)
#   MCU_INCLUDE  the directory holding resdyn.h (default include)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${MCU_OUT:-build/mcu}
INCLUDE=${MCU_INCLUDE:-include}
RESDYN=${RESDYN_BIN:-build/resdyn}
IMAGES=${MCU_IMAGES:-10000}
COST_IMAGES=${MCU_COST_IMAGES:-100}
BOARDS=${MCU_BOARDS:-microbit mps2-an385 mps2-an386 mps3-an547}
FLASH_KIB=${MCU_FLASH:-256}
RAM_KIB=${MCU_RAM:-64}
DATA=$PWD/data/mnist
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

# 2. The host side: program, data, model, exported header and the expected results.
if [ -z "${RESDYN_BIN:-}" ]; then make -s build/resdyn; fi
[ -x "$RESDYN" ] || fail "$RESDYN is not an executable"
[ -f "$DATA/t10k-labels-idx1-ubyte" ] || bash tools/fetch_mnist.sh
mkdir -p "$OUT"
MODEL=${MCU_MODEL:-$OUT/model.resdyn}
if [ ! -f "$MODEL" ]; then
  "$RESDYN" train --width 128 --depth 6 --epochs 3 --seed 1 --out "$MODEL" | grep -v '^ ' | tail -n 3
fi
"$RESDYN" quantize --model "$MODEL" --out "$OUT/model.rdq" >/dev/null
"$RESDYN" export --model "$OUT/model.rdq" --format c-header --out "$OUT/model.h" \
  --digits "$IMAGES" --expected-out "$OUT/expected.txt" >/dev/null
define() { sed -n "s/^#define RESDYN_MODEL_$1 //p" "$OUT/model.h"; }
D=$(define INPUT) N=$(define WIDTH) T=$(define DEPTH) C=$(define CLASSES) STEM=$(define STEM)
# MACs of one inference from the net's shape: stem D*N (if any), T layers of N*N, classifier N*C.
MACS=$((STEM * D * N + T * N * N + N * C))
host_right=$(sed -n 's/^accuracy \([0-9]*\)\/.*/\1/p' "$OUT/expected.txt")

# 3. Build, size, run and compare, per board. Regions: FLASH at 0 and RAM at 0x20000000 on all
# four (mps2: code SRAM and SRAM; mps3-an547: ITCM and DTCM; micro:bit: the nRF51's flash and RAM).
# -fno-schedule-insns: GCC's scheduling before register allocation lengthens the live ranges
# on a 13-register core and spills (on the Cortex-M4 it costs 1.4% more instructions).
CXXFLAGS=(-std=c++17 -O3 -fno-schedule-insns -Wall -Wextra -Werror -fno-exceptions -fno-rtti -fno-threadsafe-statics
          -fno-use-cxa-atexit -ffunction-sections -fdata-sections -I"$INCLUDE" -Itools/firmware -I"$OUT")
build() {  # board -> $OUT/firmware-$board.elf
  local board=$1 flash=$FLASH_KIB ram=$RAM_KIB cpu
  case $board in
    microbit) cpu=(-mcpu=cortex-m0 -mthumb -mfloat-abi=soft)
              [ "$flash" -le 256 ] || flash=256; [ "$ram" -le 16 ] || ram=16 ;;  # nRF51822
    mps2-an385) cpu=(-mcpu=cortex-m3 -mthumb -mfloat-abi=soft) ;;
    mps2-an386) cpu=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16) ;;
    mps3-an547) cpu=(-mcpu=cortex-m55 -mthumb -mfloat-abi=hard) ;;
    *) fail "unknown board $board" ;;
  esac
  mkdir -p "$OUT/$board"
  printf 'MEMORY\n{\n  FLASH (rx) : ORIGIN = 0x00000000, LENGTH = %dK\n  RAM (rwx) : ORIGIN = 0x20000000, LENGTH = %dK\n}\nSTACK_SIZE = 4K;\n' \
    "$flash" "$ram" >"$OUT/$board/memory.ld"
  echo "$flash $ram" >"$OUT/$board/budget"
  arm-none-eabi-gcc "${cpu[@]}" -std=c11 -O2 -Wall -Wextra -Werror -ffreestanding -Itools/firmware \
    -c tools/firmware/startup.c -o "$OUT/$board/startup.o"
  arm-none-eabi-g++ "${cpu[@]}" "${CXXFLAGS[@]}" -DFIRMWARE_RAM_BYTES=$((ram * 1024)) -c tools/firmware/main.cpp \
    -o "$OUT/$board/main.o"
  arm-none-eabi-gcc "${cpu[@]}" -nostdlib -L"$OUT/$board" -T tools/firmware/firmware.ld -Wl,--gc-sections \
    "$OUT/$board/startup.o" "$OUT/$board/main.o" -lgcc -o "$OUT/firmware-$board.elf"
}
# Runs the firmware of a board on the first n images in $OUT/$board/$name (its working directory:
# the test set's files, results.txt, console.txt), with -icount (counting instructions) or not.
qemu_run() {
  local board=$1 n=$2 name=$3 icount=$4 dir=$OUT/$1/$3
  mkdir -p "$dir"
  ln -sf "$DATA/t10k-images-idx3-ubyte" "$DATA/t10k-labels-idx1-ubyte" "$dir/"
  rm -f "$dir/results.txt"
  (cd "$dir" && timeout 600 qemu-system-arm -M "$board" -nographic -monitor none -serial none \
     -semihosting-config "enable=on,target=native,arg=firmware,arg=$n" $icount \
     -kernel "../../firmware-$board.elf" </dev/null >console.txt 2>&1)
}
# The whole test set at QEMU's full speed, then the instructions on the first COST_IMAGES under
# -icount (which runs several times slower).
run() {
  qemu_run "$1" "$IMAGES" all "" && qemu_run "$1" "$COST_IMAGES" cost "-icount shift=6"
}
report() {  # board, exit status of run -> 0 if it passed
  local board=$1 rc=$2 dir=$OUT/$1/all flash_kib ram_kib
  read -r flash_kib ram_kib <"$OUT/$board/budget"
  read -r text init data bss stack < <(arm-none-eabi-size -A "$OUT/firmware-$board.elf" | awk '
    $1==".text"{t=$2} $1==".init_array"{i=$2} $1==".data"{d=$2} $1==".bss"{b=$2} $1==".stack"{s=$2}
    END{print t+0, i+0, d+0, b+0, s+0}')
  if [ "$rc" -ne 0 ]; then
    echo "mcu: $board: firmware exited with status $rc (124: timeout)" >&2
    tail -n 5 "$dir/console.txt" "$OUT/$board/cost/console.txt" >&2
    return 1
  fi
  if ! diff "$dir/results.txt" "$OUT/expected.txt" >"$dir/results.diff" ||
     ! diff <(grep '^digit ' "$OUT/$board/cost/results.txt") <(head -n "$COST_IMAGES" "$OUT/expected.txt") \
       >"$OUT/$board/cost/results.diff"; then
    echo "mcu: $board: firmware and host integer path differ (see $OUT/$board/*/results.diff):" >&2
    head -n 6 "$dir/results.diff" "$OUT/$board/cost/results.diff" >&2
    return 1
  fi
  local count right errors mean
  count=$(grep -c '^digit ' "$dir/results.txt")
  right=$(sed -n 's/^accuracy \([0-9]*\)\/.*/\1/p' "$dir/results.txt")
  errors=$((count - right))
  echo "mcu: $board: $count images, every prediction, logit and state checksum equals the host's;" \
       "test error $(awk -v e=$errors -v n=$count 'BEGIN{printf "%.2f", 100 * e / n}')% ($errors of $count)," \
       "host's integer path $((count - host_right)) of $count"
  mean=$(sed -n 's/^cost instructions per inference: mean \([0-9]*\).*/\1/p' "$OUT/$board/cost/console.txt")
  echo "mcu: $board: $mean instructions per inference," \
       "$(awk -v i="$mean" -v m=$MACS 'BEGIN{printf "%.2f", i / m}') instructions per MAC ($MACS MACs: ${STEM}*$D*$N + $T*$N*$N + $N*$C)"
  grep '^cost' "$OUT/$board/cost/console.txt" | sed "s/^cost/mcu: $board: first $COST_IMAGES images under -icount:/"
  echo "mcu: $board: flash $((text + init + data)) of $((flash_kib * 1024)) bytes," \
       "RAM $((data + bss + stack)) of $((ram_kib * 1024)) bytes (stack $stack)"
}

status=0
for board in $BOARDS; do build "$board" || { echo "mcu: $board: the firmware does not build or fit" >&2; status=1; }; done
[ $status -eq 0 ] || { echo "mcu: FAILED" >&2; exit 1; }
# Two boards at a time (CI has two cores), each reported when both are done.
set -- $BOARDS
while [ $# -gt 0 ]; do
  first=$1; shift
  second=${1:-}; [ $# -gt 0 ] && shift
  rc1=0 rc2=0
  run "$first" & pid1=$!
  if [ -n "$second" ]; then run "$second" & pid2=$!; wait $pid2 || rc2=$?; fi
  wait $pid1 || rc1=$?
  report "$first" $rc1 || status=1
  if [ -n "$second" ]; then report "$second" $rc2 || status=1; fi
done
[ $status -eq 0 ] && echo "mcu: passed" || echo "mcu: FAILED" >&2
exit $status
