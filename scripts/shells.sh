#!/usr/bin/env bash
# Make sure zsh and fish are there for the shell-completion tests: Debian's packages.
# Idempotent: prints the shells' paths and does nothing else when both are installed.
set -euo pipefail

missing=()
for name in zsh fish; do
  command -v "$name" >/dev/null 2>&1 || missing+=("$name")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "shells.sh: ${missing[*]} not installed and we are not root: apt-get install ${missing[*]}, then retry" >&2
    exit 2
  fi
  echo "shells.sh: installing ${missing[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Another apt-get may be running (a parallel set-up): wait for its lock rather than fail.
  if [ "$(apt-cache policy "${missing[@]}" 2>/dev/null | grep -c 'Candidate: [0-9]')" != "${#missing[@]}" ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  fi
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v zsh
command -v fish
