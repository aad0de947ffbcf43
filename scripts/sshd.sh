#!/usr/bin/env bash
# A throwaway sshd on 127.0.0.1 for ssh:// engine tests, with keys made here:
#   scripts/sshd.sh start DIR PORT   -> prints the client key's path; connect as root@127.0.0.1:PORT
#   scripts/sshd.sh stop DIR
# The docker SDK (and the docker CLI) reach an engine over ssh by running `docker system dial-stdio`
# on the far side, so this machine's docker client serves as the remote one.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?folder}
port=${3:-2222}

case "$cmd" in
start)
  if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
    apt-get -o DPkg::Lock::Timeout=600 install -y -q openssh-server >/dev/null
  fi
  mkdir -p "$dir" /run/sshd
  chmod 700 "$dir"
  [ -f "$dir/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
  [ -f "$dir/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key"
  cp "$dir/client_key.pub" "$dir/authorized_keys"
  cat >"$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
CONF
  /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
  for _ in $(seq 40); do
    if ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i "$dir/client_key" \
        -p "$port" root@127.0.0.1 true 2>/dev/null; then
      echo "$dir/client_key"
      exit 0
    fi
    sleep 0.25
  done
  echo "sshd.sh: sshd did not accept the test key on 127.0.0.1:$port; see $dir/sshd.log" >&2
  exit 2
  ;;
stop)
  [ -f "$dir/sshd.pid" ] && kill "$(cat "$dir/sshd.pid")" 2>/dev/null || true
  ;;
*)
  echo "usage: sshd.sh start|stop DIR [PORT]" >&2
  exit 2
  ;;
esac
