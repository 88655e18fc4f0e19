#!/usr/bin/env bash
# The README's first command: installs what is missing, builds mkimg, makes a busybox base image
# from the host's busybox-static (no registry needed), then builds examples/hello and runs it.
# Uses the store in $MKIMG_ROOT (default /var/lib/mkimg as root).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
mkimg=build/mkimg
if ! $mkimg images 2>/dev/null | grep -q '^busybox'; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  scripts/make-busybox-root.sh "$root/busybox"
  $mkimg import "$root/busybox" busybox:latest >/dev/null
fi
$mkimg build -t hello:latest --progress plain examples/hello
$mkimg run --rm hello:latest
