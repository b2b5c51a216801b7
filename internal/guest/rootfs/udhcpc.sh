#!/bin/sh
# udhcpc script of the nicplug test guest: configures eth0 and reports each
# lease, then pings the router once and reports the result.
ev() {
	read -r up rest </proc/uptime
	echo "NICPLUG-EV $* up=$up" >/dev/console
}
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface"
	;;
bound | renew)
	[ "$1" = bound ] && ip -4 addr flush dev "$interface"
	ip addr replace "$ip/${mask:-24}" dev "$interface"
	r=${router%% *}
	[ -n "$r" ] && ip route replace default via "$r" dev "$interface"
	kind=lease
	[ "$1" = renew ] && kind=renew
	d=${dns# }
	ev $kind "$ip/${mask:-24}" router=${r:--} dns=${d// /,} lease=${lease:-0}
	if [ -n "$r" ]; then
		if ping -c 1 -W 2 "$r" >/dev/null 2>&1; then
			ev ping "$r" ok
		else
			ev ping "$r" fail
		fi
	fi
	;;
leasefail | nak)
	ev "$1"
	;;
esac
exit 0
