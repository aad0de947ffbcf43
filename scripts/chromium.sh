#!/usr/bin/env bash
# Make sure a headless browser is there for the HTML report test: Debian's chromium.
# Idempotent: prints the browser's path and does nothing else when one is installed.
set -euo pipefail

for name in chromium chromium-browser; do
  if command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
    exit 0
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "chromium.sh: chromium is not installed and we are not root: apt-get install chromium, then retry" >&2
  exit 2
fi
echo "chromium.sh: installing chromium from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
# Another apt-get may be running (a parallel set-up): wait for its lock rather than fail.
if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
fi
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium
