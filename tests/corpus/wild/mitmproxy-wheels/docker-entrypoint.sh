#!/bin/bash
# WARNING: do not change this line: it is used by the release script
set -o errexit
set -o pipefail
set -o nounset

MITMPROXY_PATH="/home/mitmproxy/.mitmproxy"

if [[ "$1" = "mitmdump" || "$1" = "mitmproxy" || "$1" = "mitmweb" ]]; then
  mkdir -p "$MITMPROXY_PATH"
  chown -R mitmproxy:mitmproxy "$MITMPROXY_PATH"
  gosu mitmproxy "$@"
else
  exec "$@"
fi
