#!/usr/bin/env bash
# Fails when a function is longer than the limit a reader can take in at once: 90 lines in
# the header, 80 in src/. Lengths come from Universal Ctags (a function's first line to its
# closing brace, lambdas inside it included), which tools/install_deps.sh installs.
#   tools/check_function_lengths.sh          check, print the longest functions
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh  # universal-ctags, among the rest
# "LENGTH FILE FUNCTION" for every function of the given files, longest first.
lengths() {
  ctags --fields=+ne --kinds-c++=f -o - --output-format=u-ctags "$@" 2>/dev/null |
    awk -F'\t' '{ start = ""; end = ""
                  for (i = 4; i <= NF; i++) { if ($i ~ /^line:/) start = substr($i, 6); if ($i ~ /^end:/) end = substr($i, 5) }
                  if (start != "" && end != "") print end - start + 1, $2, $1 }' | sort -rn
}
header=$(lengths include/resdyn.h)
sources=$(lengths $(git ls-files 'src/*.cpp' 'src/*.h' 2>/dev/null || ls src/*/*.cpp src/*/*.h))
echo "longest in include/resdyn.h:"; echo "$header" | sed -n 1,3p | sed 's/^/  /'
echo "longest in src/:"; echo "$sources" | sed -n 1,3p | sed 's/^/  /'
too_long=$( (echo "$header" | awk '$1 > 90'; echo "$sources" | awk '$1 > 80') | sed '/^$/d')
if [ -n "$too_long" ]; then
  echo "resdyn: functions longer than 90 lines (header) or 80 (src/):" >&2
  echo "$too_long" | sed 's/^/  /' >&2
  exit 1
fi
