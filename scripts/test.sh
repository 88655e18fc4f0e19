#!/usr/bin/env bash
# The whole test suite: builds mkimg, runs every test (unit, integration with real runc,
# a real registry and peer tools), the unit tests again under ASan+UBSan, and the fuzzers
# for a bounded time. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
jobs=$(nproc)

echo "== build (RelWithDebInfo)"
cmake -S . -B build -G Ninja "${launcher[@]}" >/dev/null
cmake --build build -j"$jobs"

echo "== build (ASan+UBSan)"
cmake -S . -B build-asan -G Ninja -DMKIMG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug "${launcher[@]}" >/dev/null
cmake --build build-asan -j"$jobs"

echo "== build (libFuzzer, clang)"
cmake -S . -B build-fuzz -G Ninja -DMKIMG_FUZZ=ON -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j"$jobs"

status=0
echo "== fuzz (bounded)"
(cd build-fuzz && ctest -L fuzz --output-on-failure) || status=1
echo "== unit tests under ASan+UBSan"
(cd build-asan && ctest -L unit --output-on-failure -j"$jobs") || status=1
echo "== all tests"
(cd build && ctest --output-on-failure -j"$jobs") || status=1
exit $status
