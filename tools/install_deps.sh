#!/usr/bin/env bash
# Installs, by Debian package name, whatever building and testing resdyn needs and this
# machine lacks. Does nothing when everything is present. Needs root to install.
set -euo pipefail

need=()
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
[ -f /usr/include/gtest/gtest.h ] || need+=(libgtest-dev)
command -v meson >/dev/null 2>&1 || need+=(meson)
command -v ninja >/dev/null 2>&1 || need+=(ninja-build)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v clang-format >/dev/null 2>&1 || need+=(clang-format)
ctags --version 2>/dev/null | grep Universal >/dev/null || need+=(universal-ctags)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "resdyn: missing packages: ${need[*]} (install them with: sudo apt-get install ${need[*]})" >&2
  exit 2
fi
echo "installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
