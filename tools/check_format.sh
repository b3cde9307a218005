#!/usr/bin/env bash
# Fails when a C++ source is not formatted as .clang-format says (clang-format, which
# tools/install_deps.sh installs). `tools/check_format.sh --fix` formats every source instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh  # clang-format, among the rest
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
