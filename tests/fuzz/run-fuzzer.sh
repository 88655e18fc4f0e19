#!/usr/bin/env bash
# run-fuzzer.sh FUZZER CORPUS_DIR SECONDS CONFORMANCE_DIR: seeds a fresh corpus (from the fuzzer's
# <name>.seeds script beside this file, if any) and runs the fuzzer for SECONDS.
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3 conformance=$4
name=$(basename "$fuzzer")
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$corpus" && mkdir -p "$corpus"
if [ -x "$here/$name.seeds" ]; then
  "$here/$name.seeds" "$conformance" "$corpus"
fi
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus"
