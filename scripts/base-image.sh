#!/usr/bin/env bash
# Build a minimal Debian base image locally (no registry is needed):
#   debootstrap --variant=minbase SUITE ROOT; tar -C ROOT -c . | docker import - TAG
# Cached by tag: when the image exists, nothing is done. The root filesystem gets this
# machine's extra CA certificates so that pip inside containers trusts the same roots.
set -euo pipefail

tag=${1:-drift-base:bookworm}
suite=${DRIFT_SUITE:-bookworm}

if docker image inspect "$tag" >/dev/null 2>&1; then
  exit 0
fi
command -v debootstrap >/dev/null 2>&1 || {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null && apt-get install -y -q debootstrap >/dev/null
}
work=$(mktemp -d /tmp/drift-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/root"
echo "base-image.sh: debootstrap $suite into $root (a few minutes, once)" >&2
debootstrap --variant=minbase "$suite" "$root" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 2
}
# Trust what this machine trusts (the egress proxy's CA among them).
mkdir -p "$root/usr/local/share/ca-certificates" "$root/etc/ssl/certs"
cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
# What an official Debian image does: no apt caches, no recommends questions asked.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
tar -C "$root" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["bash"]' - "$tag" >/dev/null
echo "base-image.sh: made $tag" >&2
