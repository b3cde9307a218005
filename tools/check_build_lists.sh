#!/usr/bin/env bash
# meson.build lists its sources by name (meson does not glob); the Makefile globs them.
# This fails when a source file is missing from meson.build, so both build the same code.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=0
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files ':(glob)src/*/*.cpp' ':(glob)tests/*.cpp' ':(glob)tools/*.cpp')
else
  files=$(ls src/*/*.cpp tests/*.cpp tools/*.cpp)
fi
for f in $files; do
  if ! grep -q "'$f'" meson.build; then
    echo "resdyn: $f is not listed in meson.build" >&2
    missing=1
  fi
done
exit $missing
