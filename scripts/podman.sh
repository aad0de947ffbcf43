#!/usr/bin/env bash
# A throwaway Podman service for the engine tests (Debian's podman package), with its own
# storage, run root and socket so that it never touches the host's Podman containers:
#   scripts/podman.sh start DIR   -> prints the socket URL: unix://DIR/podman.sock
#   scripts/podman.sh podman DIR ARGS...   runs `podman` against that storage
#   scripts/podman.sh stop DIR    stops the service, removes its containers, images and storage
set -euo pipefail
cmd=${1:?start|podman|stop}
dir=${2:?folder for the service}
shift 2

need() {
  if ! command -v podman >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      echo "podman.sh: podman is not installed and we are not root: apt-get install podman, then retry" >&2
      exit 2
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && apt-get install -y -q podman >/dev/null
  fi
}

pm() {
  podman --root "$dir/root" --runroot "$dir/run" --tmpdir "$dir/tmp" --events-backend file "$@"
}

case "$cmd" in
start)
  need
  mkdir -p "$dir/root" "$dir/run" "$dir/tmp"
  nohup podman --root "$dir/root" --runroot "$dir/run" --tmpdir "$dir/tmp" --events-backend file \
    system service --time=0 "unix://$dir/podman.sock" >"$dir/service.log" 2>&1 &
  echo $! >"$dir/service.pid"
  for _ in $(seq 60); do
    if curl -fsS --unix-socket "$dir/podman.sock" http://d/_ping >/dev/null 2>&1; then
      echo "unix://$dir/podman.sock"
      exit 0
    fi
    sleep 0.5
  done
  echo "podman.sh: the Podman service did not answer within 30 s; see $dir/service.log" >&2
  exit 2
  ;;
podman)
  pm "$@"
  ;;
stop)
  if [ -f "$dir/service.pid" ]; then
    kill "$(cat "$dir/service.pid")" 2>/dev/null || true
    rm -f "$dir/service.pid"
  fi
  if [ -d "$dir/root" ]; then
    pm rm -af -t 0 >/dev/null 2>&1 || true
    pm rmi -af >/dev/null 2>&1 || true
    pm system reset -f >/dev/null 2>&1 || true
  fi
  # whatever is still mounted under the folder (overlay layers) before it goes
  grep -o " $dir/[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$dir"
  ;;
*)
  echo "usage: podman.sh start|podman|stop DIR [ARGS]" >&2
  exit 2
  ;;
esac
