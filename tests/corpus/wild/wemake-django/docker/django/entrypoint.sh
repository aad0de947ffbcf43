#!/usr/bin/env sh
set -o errexit
set -o nounset

echo "DJANGO_ENV is $DJANGO_ENV"
exec "$@"
