#!/usr/bin/env bash
# Unpacks Debian's QEMU 10.0 from bookworm-backports beside the system's
# QEMU (7.2 on bookworm), without installing it, and prints the path of a
# wrapper that runs it with its own firmware and modules:
#
#   NICPLUG_QEMU=$(./scripts/install-qemu10.sh) go test ./...
#
# The packages (qemu-system-x86, qemu-system-common, qemu-system-data,
# seabios) come from the backports suite of the Debian mirror the machine's
# own apt sources name; apt runs with a private state directory, so the
# system's apt configuration is not touched and root is not needed. The
# shared libraries QEMU 10.0 links against are bookworm's, the ones
# qemu-system-x86 (7.2) pulls in (scripts/install-deps.sh installs it).
# Cached under ${XDG_CACHE_HOME:-~/.cache}/nicplug/qemu10, or, as root,
# under /var/cache/nicplug/qemu10 (world-readable, so tests can run that
# QEMU as an unprivileged user; root's home is not); a second run prints
# the cached wrapper at once. NICPLUG_QEMU10_CACHE overrides both.
set -euo pipefail

default_cache=${XDG_CACHE_HOME:-$HOME/.cache}/nicplug/qemu10
if [ "$(id -u)" = 0 ] && [ -z "${XDG_CACHE_HOME:-}" ]; then
  default_cache=/var/cache/nicplug/qemu10
fi
cache=${NICPLUG_QEMU10_CACHE:-$default_cache}
wrapper=$cache/bin/qemu-system-x86_64
if [ -x "$wrapper" ] && "$wrapper" --version >/dev/null 2>&1; then
  echo "$wrapper"
  exit 0
fi

say() { echo "install-qemu10: $*" >&2; }

# The Debian archive mirror this machine uses: the first URI of an apt
# source (deb822 or one-line) that carries the release's main suite.
. /etc/os-release
codename=${VERSION_CODENAME:?install-qemu10: no VERSION_CODENAME in /etc/os-release}
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  mirror=$(awk -v c="$codename" '
    BEGIN { RS = ""; FS = "\n" }
    {
      uri = ""; ok = 0; deb = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
        if ($i ~ /^Types:/ && $i ~ /(^|[ \t])deb([ \t]|$)/) deb = 1
        if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == c) ok = 1 }
      }
      if (uri != "" && ok && deb) { print uri; exit }
    }' "$f")
  [ -n "$mirror" ] && break
done
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v c="$codename" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == c) { print $i; exit } }')
fi
[ -n "$mirror" ] || { say "no apt source for Debian $codename found in /etc/apt"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
echo "deb $mirror $codename-backports main" >"$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=$(id -un)"
  -o "Debug::NoLocking=1")
say "fetching QEMU from $codename-backports ($mirror)"
apt-get "${apt_opts[@]}" -qq update >&2
pkgs=(qemu-system-x86 qemu-system-common qemu-system-data seabios)
(cd "$work/debs" && apt-get "${apt_opts[@]}" -qq download "${pkgs[@]/%//$codename-backports}" >&2)

rm -rf "$cache"
umask 022
mkdir -p "$cache/root" "$cache/bin"
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$cache/root"
done
root=$cache/root
for p in usr/bin/qemu-system-x86_64 usr/share/qemu usr/share/seabios/bios-256k.bin; do
  [ -e "$root/$p" ] || { say "unpacked packages lack $p"; exit 1; }
done
cat >"$wrapper.tmp" <<EOF
#!/bin/sh
# QEMU from $codename-backports, unpacked by scripts/install-qemu10.sh: its
# own firmware (-L) and modules, the system's shared libraries.
QEMU_MODULE_DIR='$root/usr/lib/x86_64-linux-gnu/qemu'
export QEMU_MODULE_DIR
exec '$root/usr/bin/qemu-system-x86_64' -L '$root/usr/share/qemu' -L '$root/usr/share/seabios' "\$@"
EOF
chmod +x "$wrapper.tmp"
if ! out=$("$wrapper.tmp" --version 2>&1); then
  say "unpacked QEMU does not run (missing shared libraries? run scripts/install-deps.sh): $out"
  exit 1
fi
mv "$wrapper.tmp" "$wrapper"
say "$(echo "$out" | head -n 1) at $wrapper"
echo "$wrapper"
