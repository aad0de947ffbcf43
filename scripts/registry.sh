#!/usr/bin/env bash
# A throwaway OCI registry for the registry tests and bench (Debian's docker-registry package:
# the distribution registry), on 127.0.0.1 only, over TLS with its own CA and htpasswd auth:
#   scripts/registry.sh start DIR PORT  -> prints 127.0.0.1:PORT; DIR holds ca.crt, user, password
#   scripts/registry.sh stop DIR        stops it and removes DIR and the engine's trust of it
# `start` also makes the Docker engine trust the CA (/etc/docker/certs.d/127.0.0.1:PORT/ca.crt,
# read by dockerd at each connection) so that `docker push` works; `stop` removes that folder.
# With REGISTRY_TOKEN_REALM=URL set, `start` configures token auth instead of htpasswd: the registry
# sends clients to URL for a Bearer token (service drift-test, issuer drift-test-issuer) and trusts
# tokens whose x5c header is DIR/token.crt (a self-signed certificate, key in DIR/token.key); the
# token server at URL is the caller's (it checks DIR/user and DIR/password).
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?folder for the registry}
port=${3:-}

need() {
  local missing=()
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "registry.sh: ${missing[*]} not installed and we are not root: apt-get install ${missing[*]}, then retry" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # the package's own service (port 5000, all interfaces) is not ours: keep it off
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi
}

case "$cmd" in
start)
  : "${port:?start needs a PORT}"
  need
  mkdir -p "$dir/data"
  chmod 700 "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=drift test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$dir/server.key" -out "$dir/server.csr" \
    >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/ext.cnf"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
    -extfile "$dir/ext.cnf" -out "$dir/server.crt" >/dev/null 2>&1
  echo drift >"$dir/user"
  head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/password"
  htpasswd -Bbc "$dir/htpasswd" drift "$(cat "$dir/password")" >/dev/null 2>&1
  if [ -n "${REGISTRY_TOKEN_REALM:-}" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=drift test token issuer" \
      -keyout "$dir/token.key" -out "$dir/token.crt" >/dev/null 2>&1
    auth="  token:
    realm: $REGISTRY_TOKEN_REALM
    service: drift-test
    issuer: drift-test-issuer
    rootcertbundle: $dir/token.crt"
  else
    auth="  htpasswd:
    realm: drift-test
    path: $dir/htpasswd"
  fi
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  tls:
    certificate: $dir/server.crt
    key: $dir/server.key
auth:
$auth
EOF
  mkdir -p "/etc/docker/certs.d/127.0.0.1:$port"
  cp "$dir/ca.crt" "/etc/docker/certs.d/127.0.0.1:$port/ca.crt"
  echo "$port" >"$dir/port"
  nohup docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  echo $! >"$dir/registry.pid"
  for _ in $(seq 60); do
    if curl -s -o /dev/null --cacert "$dir/ca.crt" "https://127.0.0.1:$port/v2/"; then
      echo "127.0.0.1:$port"
      exit 0
    fi
    sleep 0.5
  done
  echo "registry.sh: the registry did not answer within 30 s; see $dir/registry.log" >&2
  exit 2
  ;;
stop)
  if [ -f "$dir/registry.pid" ]; then
    kill "$(cat "$dir/registry.pid")" 2>/dev/null || true
    rm -f "$dir/registry.pid"
  fi
  if [ -f "$dir/port" ]; then
    rm -rf "/etc/docker/certs.d/127.0.0.1:$(cat "$dir/port")"
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: registry.sh start DIR PORT | stop DIR" >&2
  exit 2
  ;;
esac
