#!/bin/bash
# Builds a Debian bookworm test guest with a real network stack:
#   build.sh STACK OUT
# STACK is networkd (systemd-networkd, DHCP on eth0), networkd-qemu
# (the same plus qemu-system-x86, busybox-static and radvd, for tests that
# start QEMU inside the guest, some with the busybox test guest behind
# package lab's DHCP and router advertisement servers) or networkmanager (NetworkManager's default "Wired connection 1"). OUT receives vmlinuz,
# initrd.img (the image's own, from initramfs-tools) and disk.ext4 (the
# root file system, booted read-only with QEMU's snapshot=on). Needs root
# and mmdebstrap; packages come from the host's apt sources (mmdebstrap
# without a mirror argument uses them). The reporter and command channel
# scripts are next to this script.
set -euo pipefail
stack=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
case "$stack" in
networkd) extra= ;;
networkd-qemu) extra=,qemu-system-x86,busybox-static,radvd ;;
networkmanager) extra=,network-manager ;;
*) echo "build.sh: unknown stack $stack" >&2; exit 2 ;;
esac
root=$(mktemp -d "$out/root.XXXXXX")
trap 'rm -rf "$root"' EXIT
mmdebstrap --quiet --variant=apt \
	--include="systemd-sysv,udev,linux-image-cloud-amd64,iproute2,iputils-ping$extra" \
	bookworm "$root"
install -m 0755 "$here/report.sh" "$root/usr/local/sbin/nicplug-report"
install -m 0755 "$here/exec.sh" "$root/usr/local/sbin/nicplug-exec.sh"
echo "$stack" >"$root/etc/nicplug-stack"
echo "nicplug-$stack" >"$root/etc/hostname"
cat >"$root/etc/systemd/system/nicplug-report.service" <<'UNIT'
[Unit]
Description=nicplug test reporter (serial console)
After=systemd-udevd.service
[Service]
ExecStart=/usr/local/sbin/nicplug-report
[Install]
WantedBy=multi-user.target
UNIT
cat >"$root/etc/systemd/system/nicplug-exec.service" <<'UNIT'
[Unit]
Description=nicplug command channel (second serial port)
[Service]
ExecStart=/bin/sh -c 'exec /bin/sh /usr/local/sbin/nicplug-exec.sh </dev/ttyS1 >/dev/ttyS1 2>&1'
[Install]
WantedBy=multi-user.target
UNIT
units="nicplug-report nicplug-exec"
case "$stack" in
networkd | networkd-qemu)
	mkdir -p "$root/etc/systemd/network"
	printf '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n' >"$root/etc/systemd/network/10-eth0.network"
	units="$units systemd-networkd"
	chroot "$root" systemctl mask -q systemd-networkd-wait-online.service
	;;
networkmanager)
	chroot "$root" systemctl mask -q NetworkManager-wait-online.service
	;;
esac
chroot "$root" systemctl enable -q $units
chroot "$root" systemctl mask -q serial-getty@ttyS0.service serial-getty@ttyS1.service getty@tty1.service
cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"
mke2fs -q -t ext4 -d "$root" -L root "$out/disk.ext4" 1G
