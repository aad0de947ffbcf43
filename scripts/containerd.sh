#!/usr/bin/env bash
# A throwaway containerd for the engine tests (Debian's containerd package), beside Docker's,
# with its own root, state and sockets so that it never touches another containerd's
# containers:
#   scripts/containerd.sh start DIR   -> prints the socket path: DIR/containerd.sock
#   scripts/containerd.sh ctr DIR ARGS...   runs `ctr -a DIR/containerd.sock -n k8s.io ARGS`
#   scripts/containerd.sh stop DIR    kills its tasks, removes its containers and images,
#                                     stops containerd, unmounts what is left, removes DIR
set -euo pipefail
cmd=${1:?start|ctr|stop}
dir=${2:?folder for the containerd}
shift 2
ns=${CONTAINERD_NAMESPACE:-k8s.io}

need() {
  if ! command -v containerd >/dev/null 2>&1 || ! command -v ctr >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      echo "containerd.sh: containerd is not installed and we are not root: apt-get install containerd, then retry" >&2
      exit 2
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && apt-get install -y -q containerd >/dev/null
  fi
}

c() {
  ctr -a "$dir/containerd.sock" -n "$ns" "$@"
}

case "$cmd" in
start)
  need
  mkdir -p "$dir/root" "$dir/state"
  cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$dir/containerd.sock"

[ttrpc]
  address = "$dir/containerd.sock.ttrpc"

[debug]
  address = ""
EOF
  nohup containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
  echo $! >"$dir/containerd.pid"
  for _ in $(seq 60); do
    if [ -S "$dir/containerd.sock" ] && ctr -a "$dir/containerd.sock" version >/dev/null 2>&1; then
      echo "$dir/containerd.sock"
      exit 0
    fi
    sleep 0.5
  done
  echo "containerd.sh: containerd did not answer within 30 s; see $dir/containerd.log" >&2
  exit 2
  ;;
ctr)
  c "$@"
  ;;
stop)
  if [ -S "$dir/containerd.sock" ] && [ -f "$dir/containerd.pid" ] && kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null; then
    for t in $(c tasks ls -q 2>/dev/null); do c tasks kill -s KILL "$t" >/dev/null 2>&1 || true; done
    sleep 0.5
    for t in $(c tasks ls -q 2>/dev/null); do c tasks delete -f "$t" >/dev/null 2>&1 || true; done
    for k in $(c containers ls -q 2>/dev/null); do c containers delete "$k" >/dev/null 2>&1 || true; done
    for i in $(c images ls -q 2>/dev/null); do c images rm "$i" >/dev/null 2>&1 || true; done
  fi
  if [ -f "$dir/containerd.pid" ]; then
    pid=$(cat "$dir/containerd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/containerd.pid"
  fi
  # shims started by this containerd (their -address is our socket) outlive it: end them too
  for p in $(pgrep -f "containerd-shim.* -address $dir/containerd.sock" 2>/dev/null || true); do kill -9 "$p" 2>/dev/null || true; done
  # whatever is still mounted under the folder (rootfs, overlay layers) before it goes
  { grep -o " $dir/[^ ]*" /proc/self/mounts 2>/dev/null || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$dir"
  ;;
*)
  echo "usage: containerd.sh start|ctr|stop DIR [ARGS]" >&2
  exit 2
  ;;
esac
