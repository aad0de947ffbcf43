#!/bin/sh
# vim:sw=4:ts=4:et

set -e

if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    for f in /docker-entrypoint.d/*.sh; do
        [ -x "$f" ] && "$f"
    done
fi

exec "$@"
