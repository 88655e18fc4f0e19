#!/usr/bin/env bash
# Builds mkimg the way a user or a packager does (`-DCMAKE_BUILD_TYPE=Release`, every other
# option at its default, so warnings are not errors), fails if the compiler warned at all (our
# own rule, checked here instead of through -Werror so the default stays the user's), then
# installs into a scratch prefix and checks the binary and the man page are there and answer.
# Usage: scripts/check-release-build.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: check-release-build.sh BUILD_DIR}
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
fi
rm -f "$dir/CMakeCache.txt"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
grep -q '^MKIMG_WERROR:BOOL=OFF$' "$dir/CMakeCache.txt" || {
  echo "check-release-build: warnings must not be errors by default (MKIMG_WERROR)" >&2
  exit 1
}
log="$dir/build.log"
# -k 0: every object is compiled, so every warning is seen; ccache replays cached warnings.
cmake --build "$dir" -j"$(nproc)" --target mkimg -- -k 0 >"$log" 2>&1 || {
  tail -50 "$log" >&2
  echo "check-release-build: the Release build failed (log: $log)" >&2
  exit 1
}
if grep -q 'warning:' "$log"; then
  grep -A3 'warning:' "$log" | head -40 >&2
  echo "check-release-build: the Release build warned (log: $log)" >&2
  exit 1
fi
prefix="$dir/install-check"
rm -rf "$prefix"
cmake --install "$dir" --prefix "$prefix" >/dev/null
"$prefix/bin/mkimg" --help | grep -q 'mkimg' || {
  echo "check-release-build: $prefix/bin/mkimg --help failed" >&2
  exit 1
}
[ -s "$prefix/share/man/man1/mkimg.1" ] || {
  echo "check-release-build: the man page is not installed" >&2
  exit 1
}
echo "check-release-build: Release build clean, installed bin/mkimg and share/man/man1/mkimg.1"
