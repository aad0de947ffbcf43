#!/usr/bin/env bash
set -Eeo pipefail

# if first arg looks like a flag, assume we want to run postgres server
if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
	exec su postgres -s /bin/bash -c "$*"
fi

exec "$@"
