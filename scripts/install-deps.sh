#!/usr/bin/env bash
# Installs every Debian package mkimg needs to build, test and benchmark, and caches the arm64
# busybox-static the emulation tests use (scripts/cache-foreign-busybox.sh). Idempotent, and
# quiet when everything is already present. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")"

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev clang-format
  libarchive-dev libssl-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libgtest-dev
  nlohmann-json3-dev libcurl4-openssl-dev libzstd-dev zlib1g-dev libdeflate-dev
  # libarchive's own dependencies, for the binary that links it statically
  # (cmake/MkimgStartupDeps.cmake); without them it links the shared libarchive
  liblz4-dev libacl1-dev libxml2-dev libicu-dev liblzma-dev libbz2-dev nettle-dev
  # run time: an OCI runtime for RUN steps; newuidmap/newgidmap for builds without root; git
  # for ADD of a git repository and git --build-contexts
  runc uidmap git
  # RUN for foreign platforms: QEMU's user emulators (`mkimg setup-binfmt` registers them)
  qemu-user-static
  # tests: a real registry, peer tools, bases, faketime (reproducibility under other clocks),
  # strace (what a build flushes to disk, and in which order)
  docker-registry skopeo umoci oci-image-tool busybox-static debootstrap apache2-utils
  openssl curl zstd pigz python3 attr iproute2 openssh-client faketime strace
  # the peer-comparison tests (tests/peers/): Docker's engine with BuildKit, buildah
  docker.io buildah fuse-overlayfs
)
# bench/run.py also measures the peers, and compiles bench/timed.c (static, with libc.a).
if [ "${MKIMG_BENCH:-}" = 1 ]; then
  packages+=(buildah docker.io fuse-overlayfs)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exec ./cache-foreign-busybox.sh
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# docker-registry starts a system service on port 5000 on install; the tests start their own.
if systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
exec ./cache-foreign-busybox.sh
