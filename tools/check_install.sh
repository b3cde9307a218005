#!/usr/bin/env bash
# make check-install: resdyn used from outside its tree, as another program would use it.
#  1. make install into a temporary prefix, staged in DESTDIR as a package build does; the
#     staged tree holds exactly the header, the program and resdyn.pc, and the .pc file that
#     meson generates gives the same flags.
#  2. tests/library_example.cpp, copied into an empty folder, built with the flags pkg-config
#     gives for the installed resdyn.pc, and run.
#  3. The same file in a small meson project that takes this tree as subprojects/resdyn
#     through dependency('resdyn'), built and run.
#  4. make uninstall leaves nothing behind.
# Each build of the example must print the expected lines. CXX picks the compiler (default g++).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
cxx=${CXX:-g++}
expected='training error 0.0 %
predicted class 1'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "check-install: $*" >&2
  exit 1
}

# 1. The install: PREFIX is written into resdyn.pc, DESTDIR only moves the files.
prefix=$work/prefix
stage=$work/stage
make -s install PREFIX="$prefix" DESTDIR="$stage" >/dev/null
installed=$(cd "$stage" && find . -type f | sort)
want=$(printf '%s\n' ".$prefix/bin/resdyn" ".$prefix/include/resdyn.h" ".$prefix/lib/pkgconfig/resdyn.pc" | sort)
[ "$installed" = "$want" ] || fail "make install staged these files: $installed"
cmp -s include/resdyn.h "$stage$prefix/include/resdyn.h" || fail "the installed header differs from include/resdyn.h"
"$stage$prefix/bin/resdyn" --help >/dev/null || fail "the installed program does not run"
# pkg-config reads the staged file; the sysroot puts the stage in front of the paths it gives.
staged_flags() {
  PKG_CONFIG_PATH="$stage$prefix/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage" pkg-config "$@" resdyn
}
flags=$(staged_flags --cflags --libs)
version=$(sed -n "s/^ *version: '\([^']*\)'.*/\1/p" meson.build)
[ "$(staged_flags --modversion)" = "$version" ] || fail "resdyn.pc has version $(staged_flags --modversion), not $version"
meson setup "$work/meson-root" --prefix="$prefix" >"$work/meson-root.log" 2>&1 ||
  fail "meson setup failed: $(tail -n 5 "$work/meson-root.log")"
for query in --cflags --libs; do
  # shellcheck disable=SC2046,SC2116  # echo: one space between the words
  make_gives=$(echo $(PKG_CONFIG_PATH="$stage$prefix/lib/pkgconfig" pkg-config $query resdyn))
  # shellcheck disable=SC2046,SC2116
  meson_gives=$(echo $(PKG_CONFIG_PATH="$work/meson-root/meson-private" pkg-config $query resdyn))
  [ "$make_gives" = "$meson_gives" ] || fail "pkg-config $query: '$make_gives' by make's resdyn.pc, '$meson_gives' by meson's"
done

# 2. An outside program built against the installed header.
mkdir "$work/outside"
cp tests/library_example.cpp "$work/outside/"
(
  cd "$work/outside"
  # shellcheck disable=SC2086
  $cxx -std=c++17 -O2 -Wall -Wextra -Werror library_example.cpp $flags -o library_example 2>build.log ||
    fail "building the example with '$flags' failed: $(head -n 5 build.log)"
  out=$(./library_example) || fail "the example built with pkg-config failed"
  [ "$out" = "$expected" ] || fail "the example built with pkg-config printed: $out"
)

# 3. The same program in a meson project with resdyn as its subproject (never an installed copy).
mkdir -p "$work/uses_resdyn/subprojects"
ln -s "$root" "$work/uses_resdyn/subprojects/resdyn"
cp tests/library_example.cpp "$work/uses_resdyn/"
cat >"$work/uses_resdyn/meson.build" <<'EOF'
project('uses_resdyn', 'cpp', default_options: ['cpp_std=c++17', 'warning_level=2', 'werror=true'])
executable('library_example', 'library_example.cpp', dependencies: dependency('resdyn'))
# The variable that dependency('resdyn', fallback: ['resdyn', 'resdyn_dep']) names.
assert(subproject('resdyn').get_variable('resdyn_dep').found(), 'resdyn_dep is missing')
EOF
(
  cd "$work/uses_resdyn"
  CXX=$cxx meson setup build --force-fallback-for=resdyn >setup.log 2>&1 ||
    fail "meson setup of a project using resdyn failed: $(tail -n 5 setup.log)"
  ninja -C build >build.log 2>&1 || fail "building the meson project failed: $(tail -n 5 build.log)"
  out=$(build/library_example) || fail "the example built by meson failed"
  [ "$out" = "$expected" ] || fail "the example built by meson printed: $out"
)

# 4. make uninstall removes every file make install wrote.
make -s uninstall PREFIX="$prefix" DESTDIR="$stage" >/dev/null
left=$(cd "$stage" && find . -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "check-install: make install, pkg-config and a meson subproject each give a working program"
