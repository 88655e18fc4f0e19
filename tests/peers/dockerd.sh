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
#
# Networking is off (--bridge=none, no iptables): builds use --network host. Exit 2 means
# dockerd is not installed or cannot run here (the caller may fall back or skip).
set -uo pipefail

DOCKERD=/usr/sbin/dockerd
DOCKER=/usr/bin/docker
STATE_GLOB="${TMPDIR:-/tmp}/mkimg-peers-docker.*"

die() { echo "dockerd.sh: $*" >&2; exit "${2:-1}"; }

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
  grep -o " $dir[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$dir" 2>/dev/null || { sleep 1; rm -rf "$dir"; }
}

sweep_stale() {
  local dir owner
  for dir in $STATE_GLOB; do
    [ -d "$dir" ] || continue
    owner=$(cat "$dir/owner.pid" 2>/dev/null)
    alive "$owner" || stop_engine "$dir"
  done
}

start_engine() {
  local dir=$1 owner=$2
  [ -x "$DOCKERD" ] && [ -x "$DOCKER" ] || die "dockerd is not installed (apt-get install docker.io)" 2
  sweep_stale
  mkdir -p "$dir" && echo "$owner" >"$dir/owner.pid"
  setsid "$DOCKERD" --data-root "$dir/data" --exec-root "$dir/exec" \
    -H "unix://$dir/docker.sock" --pidfile "$dir/dockerd.pid" --bridge=none \
    --iptables=false --ip6tables=false --storage-driver overlay2 \
    </dev/null >"$dir/dockerd.log" 2>&1 &
  echo $! >"$dir/launched.pid"
  # The watchdog: stops the engine when the owner (the test process) is gone.
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done
                  exec "$0" stop "$2"' "$0" "$owner" "$dir" </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/watchdog.pid"
  for _ in $(seq 1 300); do
    if "$DOCKER" -H "unix://$dir/docker.sock" version >/dev/null 2>&1; then return 0; fi
    alive "$(cat "$dir/launched.pid")" || break
    sleep 0.2
  done
  tail -n 20 "$dir/dockerd.log" >&2
  stop_engine "$dir"
  die "start dockerd in \`$dir\`: it did not answer (log above)" 2
}

case "${1:-}" in
  start) [ $# -eq 3 ] || die "usage: dockerd.sh start DIR OWNER_PID"; start_engine "$2" "$3" ;;
  stop) [ $# -eq 2 ] || die "usage: dockerd.sh stop DIR"; stop_engine "$2" ;;
  client)
    [ $# -ge 2 ] || die "usage: dockerd.sh client DIR ARGS..."
    dir=$2; shift 2
    DOCKER_BUILDKIT=1 exec "$DOCKER" -H "unix://$dir/docker.sock" "$@" ;;
  *) die "usage: dockerd.sh start DIR OWNER_PID | stop DIR | client DIR ARGS..." ;;
esac
