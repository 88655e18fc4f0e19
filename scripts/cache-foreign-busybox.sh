#!/usr/bin/env bash
# cache-foreign-busybox.sh: Debian's arm64 busybox-static, unpacked once into
# /var/cache/mkimg-tests/busybox-static-arm64 ($MKIMG_TEST_CACHE overrides the folder above it),
# the base of the tests that RUN under QEMU (tests/support/emulation_fixture.h lays it out with
# scripts/make-busybox-root.sh DIR BUSYBOX). Idempotent and quiet when present. Run as root
# (scripts/install-deps.sh calls it): it adds the arm64 architecture to dpkg.
set -euo pipefail
arch=arm64
cache=${MKIMG_TEST_CACHE:-/var/cache/mkimg-tests}/busybox-static-$arch
[ -f "$cache/bin/busybox" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "cache-foreign-busybox: $cache/bin/busybox missing (run as root to fetch it)" >&2
  exit 1
fi
echo "cache-foreign-busybox: fetching busybox-static:$arch into $cache" >&2
if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
  dpkg --add-architecture "$arch"
  apt-get update -qq >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -qq "busybox-static:$arch" >/dev/null 2>&1) || {
  apt-get update -qq >/dev/null
  (cd "$work" && apt-get download -qq "busybox-static:$arch" >/dev/null)
}
dpkg-deb -x "$work"/busybox-static_*_"$arch".deb "$work/root"
mkdir -p "$(dirname "$cache")"
rm -rf "$cache.tmp"
mkdir -p "$cache.tmp/bin"
cp "$work/root/bin/busybox" "$cache.tmp/bin/busybox"
rm -rf "$cache"
mv "$cache.tmp" "$cache"
