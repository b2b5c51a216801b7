#!/bin/bash
# Reporter of nicplug's distribution test guests (a systemd service): prints
# eth0's carrier changes, IPv4 address changes and a ping of the gateway
# after each new one, and IPv6 address changes (SLAAC; not link-local) on the serial
# console, one "NICPLUG-EV " line per
# event (grammar in ../event.go). The network stack itself (systemd-networkd
# or NetworkManager) configures eth0; this only watches.
ev() {
	local up rest
	read -r up rest </proc/uptime
	echo "NICPLUG-EV $* up=$up" >/dev/ttyS0
}
# A FIFO held open read-write: "read -t" on it is a sleep without a fork.
mkfifo /run/nicplug-tick 2>/dev/null
exec 3<>/run/nicplug-tick
for _ in $(seq 500); do
	[ -e /sys/class/net/eth0 ] && break
	read -r -t 0.01 _ <&3
done
mac=-
[ -e /sys/class/net/eth0/address ] && read -r mac </sys/class/net/eth0/address
read -r stack </etc/nicplug-stack
ping_gateway() {
	local gw=
	for _ in $(seq 300); do
		gw=$(ip -4 route show default dev eth0 | awk '{ print $3; exit }')
		[ -n "$gw" ] && break
		read -r -t 0.01 _ <&3
	done
	if [ -n "$gw" ] && ping -c 1 -W 2 "$gw" >/dev/null 2>&1; then
		ev ping "$gw" ok
	else
		ev ping "${gw:--}" fail
	fi
}
# ip -o monitor: "2: eth0    inet 10.0.2.15/24 …" or "Deleted 2: eth0    inet …";
# IPv6: "2: eth0    inet6 fd6e:…/64 scope global dynamic mngtmpaddr …".
# Every device is watched and eth0's lines kept: a hot-plugged eth0 is a
# new device (ifindex) with the same name. Global (and site-local: QEMU's
# user network advertises fec0::/64) IPv6 addresses are
# reported once each when usable (DAD done: not tentative); the kernel and
# the stacks re-announce them on every router advertisement.
ip -o monitor address | {
	declare -A seen6
	while read -r -a f; do
		if [ "${f[0]}" = Deleted ]; then
			[ "${f[2]}" = eth0 ] || continue
			case "${f[3]}" in
			inet) ev deladdr "${f[4]}" ;;
			inet6)
				if [ -n "${seen6[${f[4]}]}" ]; then
					unset "seen6[${f[4]}]"
					ev deladdr6 "${f[4]}"
				fi
				;;
			esac
		elif [ "${f[1]}" = eth0 ]; then
			case "${f[2]}" in
			inet)
				ev addr "${f[3]}"
				ping_gateway &
				;;
			inet6)
				case "${f[5]}" in global | site) ;; *) continue ;; esac
				[ -z "${seen6[${f[3]}]}" ] || continue
				case " ${f[*]} " in *" tentative "* | *" dadfailed "*) continue ;; esac
				seen6[${f[3]}]=1
				ev addr6 "${f[3]}"
				;;
			esac
		fi
	done
} &
ev ready mac="$mac" stack="$stack"
prev=
while :; do
	c=0
	read -r c </sys/class/net/eth0/carrier 2>/dev/null
	if [ "$c" != "$prev" ]; then
		prev=$c
		ev carrier "$c"
	fi
	read -r -t 0.01 _ <&3
done
