#!/usr/bin/env bash
# Make sure a Docker engine answers. Installs Debian's docker.io and starts dockerd when
# none does (root, no systemd). Idempotent: does nothing when `docker info` already works.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "engine.sh: no Docker engine answers and we are not root: start one (dockerd) and retry" >&2
  exit 2
fi
if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  echo "engine.sh: installing docker.io and debootstrap from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q docker.io debootstrap >/dev/null
fi
if ! command -v docker >/dev/null 2>&1; then
  echo "engine.sh: docker client missing after install" >&2
  exit 2
fi
log=${DRIFT_DOCKERD_LOG:-/var/log/drift-dockerd.log}
echo "engine.sh: starting dockerd (log: $log)" >&2
# --iptables=false: this machine's kernel has no usable netfilter for bridges; drift's
# builds and containers use the host network instead.
nohup dockerd --iptables=false --ip6tables=false >"$log" 2>&1 &
for _ in $(seq 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "engine.sh: dockerd did not answer within 60 s; see $log" >&2
tail -n 20 "$log" >&2 || true
exit 2
