#!/usr/bin/env bash
# The whole test suite: builds mkimg (warnings are errors here), registers QEMU's emulators
# (`mkimg setup-binfmt`, as root), runs every test (unit, integration with real runc, a real
# registry and peer tools, RUN of arm64 under QEMU), the unit tests again under
# ASan+UBSan, and the fuzzers for a bounded time; builds and installs the Release configuration
# with default options, as a user or a packager does. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Share compiled objects between checkouts in different folders (CI clones afresh).
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
fi
jobs=$(nproc)
# The sanitizer and fuzz builds compile only what they run.
unit_targets=$(cd tests/unit && for d in */; do ls "$d"*.cpp >/dev/null 2>&1 && echo "unit_${d%/}"; done)
fuzz_targets=$(cd tests/fuzz && ls fuzz_*.cpp 2>/dev/null | sed 's/\.cpp$//')

echo "== build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DMKIMG_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build build -j"$jobs"

# RUN for foreign platforms: the emulation tests need QEMU registered with binfmt_misc (their
# fixture registers what it needs too; as root they fail, not skip, without it).
if [ "$(id -u)" -eq 0 ]; then
  echo "== register QEMU's emulators (mkimg setup-binfmt)"
  build/mkimg setup-binfmt || echo "test.sh: mkimg setup-binfmt failed; the emulation tests will say why" >&2
fi

echo "== build (ASan+UBSan)"
cmake -S . -B build-asan -G Ninja -DMKIMG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DMKIMG_WERROR=ON \
  "${launcher[@]}" >/dev/null
cmake --build build-asan -j"$jobs" --target $unit_targets

echo "== build (libFuzzer, clang)"
cmake -S . -B build-fuzz -G Ninja -DMKIMG_FUZZ=ON -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DMKIMG_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j"$jobs" --target $fuzz_targets

status=0
echo "== Release build with default options, then cmake --install"
scripts/check-release-build.sh build-release || status=1

echo "== fuzz (bounded)"
(cd build-fuzz && ctest -L fuzz --output-on-failure) || status=1
echo "== unit tests under ASan+UBSan"
(cd build-asan && ctest -L unit --output-on-failure -j"$jobs") || status=1
echo "== all tests"
(cd build && ctest --output-on-failure -j"$jobs") || status=1
exit $status
