#!/bin/sh
# make-rootless-user.sh NAME [START COUNT]: makes the system user NAME exist with exactly the
# subordinate range START:COUNT in /etc/subuid and /etc/subgid, or with none when START is not
# given. The rootless tests and bench/run.py run mkimg as such users; test processes run this
# at the same time, so it holds a lock.
set -eu
name=$1
want=${2:+$name:$2:$3}
exec 9>/run/lock/mkimg-rootless-user.lock
flock 9
id "$name" >/dev/null 2>&1 ||
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$name"
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  current=$(grep "^$name:" "$f" || true)
  [ "$current" = "$want" ] && continue
  sed -i "/^$name:/d" "$f"
  [ -z "$want" ] || echo "$want" >>"$f"
done
