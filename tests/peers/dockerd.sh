#!/usr/bin/env bash
# dockerd.sh: a private Docker engine for the peer-comparison tests, beside any other engine.
#
#   dockerd.sh start DIR OWNER_PID   starts dockerd with everything under DIR (data root, exec
#                                    root with its own containerd, socket DIR/docker.sock,
#                                    pidfile, log DIR/dockerd.log) and waits until it answers.
#                                    A watchdog stops it when OWNER_PID exits, so a killed test
#                                    never leaves an engine behind; engines left by earlier
#                                    runs whose owner is gone are stopped first.
#   dockerd.sh stop DIR              stops that engine (TERM, then KILL), unmounts what it left
#                                    under DIR and removes DIR.
#   dockerd.sh client DIR ARGS...    runs Debian's docker client against it, with BuildKit.
#   dockerd.sh sweep                 stops the engines whose owner is gone (start does it too).
#
# Networking is off (--bridge=none, no iptables): builds use --network host.
# Exit status of start: 0 the engine answers; 2 dockerd cannot run on this machine at all
# (not installed, not root, the kernel refuses an overlay mount), checked before it is
# started, the caller may skip; 1 anything else (dockerd exited, or did not answer within
# MKIMG_PEERS_DOCKERD_WAIT seconds, default 90): a failure, with the reason and dockerd's log.
#
# Several test processes start engines at once (ctest -j), each in its own DIR named
# $STATE_GLOB. The owner's pid is written first thing, and only a DIR whose owner.pid names a
# process that is gone is swept (or one without owner.pid an hour old): a DIR without it is
# an engine being started by someone else (the caller creates DIR before calling start).
set -uo pipefail

DOCKERD=/usr/sbin/dockerd
DOCKER=/usr/bin/docker
# Where the tests make DIR (docker_engine.cpp: /tmp, whatever TMPDIR says, for a short socket path).
STATE_GLOB="/tmp/mkimg-peers-docker.*"

die() { echo "dockerd.sh: $1" >&2; exit "${2:-1}"; }

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

stop_engine() {
  local dir=$1 pid watchdog
  [ -d "$dir" ] || return 0
  watchdog=$(cat "$dir/watchdog.pid" 2>/dev/null)
  if alive "$watchdog" && [ "$watchdog" != "$$" ] && [ "$watchdog" != "$PPID" ]; then
    kill "$watchdog" 2>/dev/null
  fi
  pid=$(cat "$dir/dockerd.pid" 2>/dev/null || cat "$dir/launched.pid" 2>/dev/null)
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 150); do alive "$pid" || break; sleep 0.2; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
  fi
  # dockerd stops its own containerd; one left behind (dockerd killed) is found by its pidfile.
  pid=$(cat "$dir/exec/containerd/containerd.pid" 2>/dev/null)
  alive "$pid" && kill -KILL "$pid" 2>/dev/null
  grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$dir" 2>/dev/null || { sleep 1; rm -rf "$dir"; }
}

# Stops the engines whose owner is gone, one sweeper at a time (two would stop the same
# engine at once). A DIR without owner.pid belongs to a start in progress unless it is old.
sweep_stale() {
  local dir owner
  exec 9>/tmp/mkimg-peers-docker-sweep.lock && flock -w 120 9 || return 0
  for dir in $STATE_GLOB; do
    [ -d "$dir" ] || continue
    owner=$(cat "$dir/owner.pid" 2>/dev/null)
    if [ -z "$owner" ]; then
      [ -n "$(find "$dir" -maxdepth 0 -mmin +60 2>/dev/null)" ] && stop_engine "$dir"
    elif ! alive "$owner"; then
      stop_engine "$dir"
    fi
  done
  exec 9>&-
}

# Why dockerd cannot run on this machine at all (exit 2), checked before starting it.
check_machine() {
  local dir=$1 probe=$1/overlay-probe out
  [ -x "$DOCKERD" ] || die "dockerd is not installed: no $DOCKERD (apt-get install docker.io)" 2
  [ -x "$DOCKER" ] || die "the docker client is not installed: no $DOCKER (apt-get install docker.io)" 2
  [ "$(id -u)" -eq 0 ] || die "dockerd needs root (running as uid $(id -u))" 2
  # overlay2 is the storage driver: the kernel must let us mount an overlay in DIR.
  mkdir -p "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged" || die "mkdir under $dir failed"
  out=$(unshare --mount --propagation private mount -t overlay overlay \
    -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>&1) ||
    die "the kernel refuses an overlay mount under $dir (dockerd's overlay2 needs it): $out" 2
  rm -rf "$probe"
}

start_engine() {
  local dir=$1 owner=$2 wait=${MKIMG_PEERS_DOCKERD_WAIT:-90} pid status why started=$SECONDS
  # The owner first: from now on no other start's sweep takes DIR for a stale one.
  { mkdir -p "$dir" && echo "$owner" >"$dir/owner.pid"; } || die "cannot write $dir/owner.pid"
  check_machine "$dir"
  sweep_stale
  setsid "$DOCKERD" --data-root "$dir/data" --exec-root "$dir/exec" \
    -H "unix://$dir/docker.sock" --pidfile "$dir/dockerd.pid" --bridge=none \
    --iptables=false --ip6tables=false --storage-driver overlay2 \
    </dev/null >"$dir/dockerd.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/launched.pid"
  # The watchdog: stops the engine when the owner (the test process) is gone.
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done
                  exec "$0" stop "$2"' "$0" "$owner" "$dir" </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/watchdog.pid"
  # Ready when the API answers; a loaded machine makes that slow, so wait long, but bounded.
  while :; do
    if timeout 20 "$DOCKER" -H "unix://$dir/docker.sock" version >/dev/null 2>&1; then return 0; fi
    if ! alive "$pid"; then
      wait "$pid"; status=$?
      why="dockerd exited with status $status after $((SECONDS - started)) s"
      break
    fi
    if [ $((SECONDS - started)) -ge "$wait" ]; then
      why="dockerd did not answer on $dir/docker.sock within $wait s (MKIMG_PEERS_DOCKERD_WAIT)"
      break
    fi
    sleep 0.2
  done
  echo "--- the end of $dir/dockerd.log:" >&2
  tail -n 30 "$dir/dockerd.log" >&2 || echo "(no log: $dir is gone)" >&2
  stop_engine "$dir"
  die "start dockerd in \`$dir\`: $why" 1
}

case "${1:-}" in
  start) [ $# -eq 3 ] || die "usage: dockerd.sh start DIR OWNER_PID"; start_engine "$2" "$3" ;;
  stop) [ $# -eq 2 ] || die "usage: dockerd.sh stop DIR"; stop_engine "$2" ;;
  sweep) [ $# -eq 1 ] || die "usage: dockerd.sh sweep"; sweep_stale ;;
  client)
    [ $# -ge 2 ] || die "usage: dockerd.sh client DIR ARGS..."
    dir=$2; shift 2
    DOCKER_BUILDKIT=1 exec "$DOCKER" -H "unix://$dir/docker.sock" "$@" ;;
  *) die "usage: dockerd.sh start DIR OWNER_PID | stop DIR | client DIR ARGS... | sweep" ;;
esac
