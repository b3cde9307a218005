#!/usr/bin/env bash
# Fails when a C++ source is not formatted as .clang-format says (clang-format; installed
# when missing). `tools/check_format.sh --fix` formats every source in place instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "resdyn: clang-format is missing (install it with: sudo apt-get install clang-format)" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends clang-format >/dev/null
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.h')
else
  mapfile -t files < <(find include src tests tools -name '*.cpp' -o -name '*.h')
fi
if [ "${1:-}" = --fix ]; then
  clang-format -i --style=file "${files[@]}"
  exit 0
fi
unformatted=()
for f in "${files[@]}"; do
  if ! clang-format --style=file --dry-run -Werror "$f" >/dev/null 2>&1; then unformatted+=("$f"); fi
done
if [ ${#unformatted[@]} -gt 0 ]; then
  echo "resdyn: not formatted as .clang-format says (run tools/check_format.sh --fix): ${unformatted[*]}" >&2
  exit 1
fi
echo "format: ${#files[@]} sources as .clang-format says"
