#!/usr/bin/env bash
# A throwaway PostgreSQL server for the store tests (Debian's postgresql package; root is fine:
# the cluster runs as the 'postgres' user):
#   scripts/postgres.sh start DIR   -> prints a URL: postgresql://postgres@/drift?host=DIR/sock&port=PORT
#   scripts/postgres.sh stop DIR
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?folder for the cluster}
port=${DRIFT_PG_PORT:-54329}

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$d" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null
    d=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$d"
}

case "$cmd" in
start)
  bin=$(bindir)
  mkdir -p "$dir/sock"
  chown -R postgres:postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1
  fi
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir/sock -p $port -c listen_addresses='' -c fsync=off" start >/dev/null
  runuser -u postgres -- "$bin/createdb" -h "$dir/sock" -p "$port" drift 2>/dev/null || true
  echo "postgresql://postgres@/drift?host=$dir/sock&port=$port"
  ;;
stop)
  bin=$(bindir)
  [ -f "$dir/data/postmaster.pid" ] && runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  ;;
*)
  echo "usage: postgres.sh start|stop DIR" >&2
  exit 2
  ;;
esac
