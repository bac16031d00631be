#!/usr/bin/env bash
# Makes sure the real peers the tests run against are installed (npm's `pretest` script): Debian's
# python3-websockets, nginx, tinyproxy, chromium, openssl and websockify. Installs whatever is missing
# with apt-get (through sudo when not root), then checks again. A peer that is still missing fails the run: the
# interop tests never skip.
set -euo pipefail

# check NAME PACKAGE COMMAND...: records PACKAGE as missing unless COMMAND succeeds.
missing_names=()
missing_packages=()
check() {
  local name=$1 package=$2
  shift 2
  if ! "$@" >/dev/null 2>&1; then
    missing_names+=("$name")
    missing_packages+=("$package")
  fi
}

check_all() {
  missing_names=()
  missing_packages=()
  check 'python3-websockets (/usr/bin/python3 -c "import websockets")' python3-websockets \
    /usr/bin/python3 -c 'import websockets'
  check 'nginx (/usr/sbin/nginx)' nginx test -x /usr/sbin/nginx
  check 'tinyproxy (/usr/bin/tinyproxy)' tinyproxy-bin test -x /usr/bin/tinyproxy
  check 'chromium (/usr/bin/chromium)' chromium test -x /usr/bin/chromium
  check 'openssl' openssl openssl version
  check 'websockify (/usr/bin/websockify)' websockify test -x /usr/bin/websockify
}

check_all
if ((${#missing_packages[@]} == 0)); then
  echo 'install-peers: python3-websockets, nginx, tinyproxy, chromium, openssl and websockify are installed'
  exit 0
fi

echo "install-peers: missing: ${missing_names[*]}"
as_root=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "install-peers: ERROR: not root and no sudo: install these Debian packages: ${missing_packages[*]}" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-peers: ERROR: no apt-get: install these Debian packages: ${missing_packages[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-peers: apt-get install ${missing_packages[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
  echo 'install-peers: apt-get update failed; trying the install anyway' >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing_packages[@]}" ||
  echo 'install-peers: apt-get install failed' >&2

check_all
if ((${#missing_packages[@]} > 0)); then
  echo "install-peers: ERROR: still missing after apt-get: ${missing_names[*]}" >&2
  echo "install-peers: the interop tests need them (Debian packages: ${missing_packages[*]})" >&2
  exit 1
fi
echo 'install-peers: all peers installed'
