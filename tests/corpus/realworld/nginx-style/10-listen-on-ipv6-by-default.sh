#!/bin/sh
# vim:sw=4:ts=4:et
set -e
DEFAULT_CONF_FILE="etc/nginx/conf.d/default.conf"
if [ ! -f "/$DEFAULT_CONF_FILE" ]; then
    exit 0
fi
grep -q "listen  \[::]\:80;" "/$DEFAULT_CONF_FILE" || echo "ipv6 not enabled"
