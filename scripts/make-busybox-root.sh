#!/usr/bin/env bash
# make-busybox-root.sh DIR [BUSYBOX]: lays out a minimal root file system in DIR from the
# host's busybox-static: /bin/busybox with its applet links, /etc/passwd and /etc/group, /tmp.
# The same tree is the "busybox" base for mkimg (mkimg import) and for peers (docker import),
# so the tests and the demo need no registry on the network.
# BUSYBOX, when given, is the binary laid out instead (another architecture's busybox-static,
# e.g. the arm64 one scripts/install-deps.sh caches): it is never run, its applet links are
# those the host's busybox lists.
set -euo pipefail
dir=$1
busybox=${2:-}
[ -x /bin/busybox ] || { echo "make-busybox-root: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 1; }
[ -z "$busybox" ] || [ -f "$busybox" ] || { echo "make-busybox-root: $busybox missing" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"/{bin,etc,tmp,root,home,var,usr/bin,usr/sbin,sbin,proc,sys,dev}
chmod 1777 "$dir/tmp"
chmod 0700 "$dir/root"
cp "${busybox:-/bin/busybox}" "$dir/bin/busybox"
chmod 0755 "$dir/bin/busybox"
# One process makes every applet link at its full path (/bin, /sbin, /usr/bin, /usr/sbin); a
# foreign busybox is not run (it would need an emulator), the host's lists the applets.
if [ -n "$busybox" ] || ! chroot "$dir" /bin/busybox --install -s 2>/dev/null; then
  for applet in $(/bin/busybox --list-full); do
    [ "$applet" = "bin/busybox" ] && continue
    mkdir -p "$dir/$(dirname "$applet")"
    ln -sf /bin/busybox "$dir/$applet"
  done
fi
cat >"$dir/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
PW
cat >"$dir/etc/group" <<'GR'
root:x:0:
daemon:x:1:
bin:x:2:
users:x:100:app
nogroup:x:65534:
app:x:1000:
GR
mkdir -p "$dir/home/app" && chown 1000:1000 "$dir/home/app"
# Fixed times so the tree, and every image made from it, is the same on every machine.
find "$dir" -exec touch -h -d @0 {} +
