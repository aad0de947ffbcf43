#!/usr/bin/env bash
# A second, throwaway Docker engine for multi-engine tests (root, no systemd):
#   scripts/engine2.sh start DIR [BRIDGE]   -> prints the engine's DOCKER_HOST (unix://DIR/docker.sock)
#   scripts/engine2.sh stop DIR [BRIDGE]
# ENGINE2_ARGS adds dockerd options (e.g. a TLS listener: --tlsverify ... -H tcp://127.0.0.1:PORT).
# It has its own --data-root, --exec-root, --pidfile, socket and bridge. A bridge of its own matters:
# a second dockerd started with --bridge=none deletes the first engine's docker0.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?folder for the engine}
bridge=${3:-drift-br2}
sock="$dir/docker.sock"
pidfile="$dir/docker.pid"

case "$cmd" in
start)
  mkdir -p "$dir/data" "$dir/exec"
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add 172.31.250.1/24 dev "$bridge" 2>/dev/null || true
    ip link set "$bridge" up
  fi
  # Its own /etc/docker (in a private mount namespace): engines on one machine would otherwise share
  # /etc/docker/key.json and so report the same engine ID in `docker info`.
  mkdir -p "$dir/etc-docker"
  nohup unshare -m --propagation private sh -c 'mount --bind "$0" /etc/docker && exec "$@"' "$dir/etc-docker" \
    dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$pidfile" \
    --host "unix://$sock" --bridge "$bridge" --iptables=false --ip6tables=false ${ENGINE2_ARGS:-} \
    >"$dir/dockerd.log" 2>&1 &
  for _ in $(seq 60); do
    if DOCKER_HOST="unix://$sock" docker info >/dev/null 2>&1; then
      echo "unix://$sock"
      exit 0
    fi
    sleep 0.5
  done
  echo "engine2.sh: the second dockerd did not answer within 30 s; see $dir/dockerd.log" >&2
  tail -n 20 "$dir/dockerd.log" >&2 || true
  exit 2
  ;;
stop)
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  ip link del "$bridge" 2>/dev/null || true
  ;;
*)
  echo "usage: engine2.sh start|stop DIR [BRIDGE]" >&2
  exit 2
  ;;
esac
