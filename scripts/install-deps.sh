#!/usr/bin/env bash
# Installs, from Debian's apt, what nicplug's tests and demo need on a fresh
# Debian bookworm machine. Does nothing for packages already present.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

pkgs=(qemu-system-x86 busybox-static iproute2 radvd cpio xz-utils ca-certificates mmdebstrap e2fsprogs util-linux mount)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# macvtap/tun must be loadable for the netif and guest tests (no-op if built in).
modprobe -q macvtap 2>/dev/null || true
modprobe -q tun 2>/dev/null || true
