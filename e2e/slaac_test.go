package e2e_test

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/lab"
)

// kernelSLAAC checks what docs/performance.md (part 9) measured for a
// guest whose IPv6 is the kernel's own SLAAC (the busybox guest: accept_ra
// 1, nothing in userspace), and the README's advice for it: the guest
// takes the LAN's prefix from its radvd; moved to QEMU's user network it
// keeps that address (the kernel does not act on carrier for IPv6; the
// router solicitations it sends meanwhile are logged); an administrative down/up of eth0 drops the
// old address and solicits, and the guest takes the user network's
// fec0::/64 and reaches fec0::2.
func (r *rig) kernelSLAAC(n *lab.Network, directXML []byte, lan domain.Backend) {
	r.t.Helper()
	r.ensure(directXML, lan, n.Subnet)
	// The RA comes within radvd's 4 s interval (or answers the first
	// solicitation), then 1 s of DAD.
	lanAddr := r.waitAddr6(n.Prefix6, 15*time.Second)
	rs := r.routerSolicits()
	r.plug("switch direct→user (kernel SLAAC)", userXML, userNet)
	// Not asserted: the kernel does not solicit on carrier up for a
	// device it already configured (addrconf_notify), and the bench saw
	// none in 4 moves, but one CI run on QEMU 10.0 counted 1 during the
	// move, unexplained (a retransmission of an earlier solicitation is
	// one candidate).
	r.t.Logf("router solicitations sent during the move: %d", r.routerSolicits()-rs)
	if !slicesContains(r.addrs6(), lanAddr) {
		r.t.Errorf("after the move the guest dropped %s; the kernel keeps it (documented)", lanAddr)
	}
	// The advice: down/up flushes autoconfigured addresses and solicits.
	if out, code := r.exec("ip link set eth0 down && ip link set eth0 up"); code != 0 {
		r.t.Fatalf("ip link down/up: %s", out)
	}
	a := r.waitAddr6(userNet6, 15*time.Second)
	if slicesContains(r.addrs6(), lanAddr) {
		r.t.Errorf("after ip link down/up the guest still has %s", lanAddr)
	}
	if !r.ping("-6 " + userGW6.String()) {
		r.t.Errorf("guest does not reach %s over IPv6", userGW6)
	}
	r.t.Logf("kernel SLAAC: kept %s across the move; after down/up %s", lanAddr, a)
}

// addrs6 returns eth0's usable (not tentative) IPv6 addresses but the
// link-local ones.
func (r *rig) addrs6() []netip.Prefix {
	r.t.Helper()
	out, _ := r.exec("ip -6 -o addr show dev eth0")
	var as []netip.Prefix
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 || f[2] != "inet6" || strings.Contains(line, " tentative") {
			continue
		}
		if p, err := netip.ParsePrefix(f[3]); err == nil && !p.Addr().IsLinkLocalUnicast() {
			as = append(as, p)
		}
	}
	return as
}

// waitAddr6 polls eth0 until it has a usable address in prefix.
func (r *rig) waitAddr6(prefix netip.Prefix, d time.Duration) netip.Prefix {
	r.t.Helper()
	for end := time.Now().Add(d); ; {
		for _, a := range r.addrs6() {
			if prefix.Contains(a.Addr()) {
				return a
			}
		}
		if time.Now().After(end) {
			out, _ := r.exec("ip -6 -o addr show dev eth0")
			r.t.Fatalf("no IPv6 address in %s within %v; eth0:\n%s", prefix, d, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// routerSolicits reads the guest's count of router solicitations sent.
func (r *rig) routerSolicits() int {
	r.t.Helper()
	out, _ := r.exec("grep Icmp6OutRouterSolicits /proc/net/snmp6")
	f := strings.Fields(out)
	if len(f) != 2 {
		r.t.Fatalf("snmp6: %q", out)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

func slicesContains(as []netip.Prefix, p netip.Prefix) bool {
	for _, a := range as {
		if a == p {
			return true
		}
	}
	return false
}
