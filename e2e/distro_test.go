package e2e_test

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationDistroMoves boots each distribution guest unplugged and
// plugs it into QEMU's user network, moves it to a macvtap LAN with its
// own DHCP server and back, and unplugs it, all with nicplug's default
// carrier hold (at most 8 s, ending when the guest changes its NIC's
// receive filter). After each move the guest's own stack must hold an
// address on the new network only and ping its gateway, and the hold must
// have ended on the guest's reaction, not run its full length; after the
// unplug the guest must hold no address.
//
// IPv6 too: QEMU's user network advertises fec0::/64, the LAN's radvd its
// own prefix. After each plug and move the guest's stack must take an
// address in the new network's prefix by SLAAC, reach that network's
// router over IPv6, and hold no address of the previous network's prefix
// (both stacks drop their SLAAC addresses when they let go of the link:
// docs/performance.md, part 9); after the unplug, no IPv6 address but the
// link-local one.
func TestIntegrationDistroMoves(t *testing.T) {
	for _, stack := range []guest.Stack{guest.StackNetworkd, guest.StackNetworkManager} {
		t.Run(string(stack), func(t *testing.T) {
			n := network(t)
			logs := &testenv.LogBuffer{}
			r := bootStack(t, stack, noneXML, &nicplug.Config{Netns: n.Netns,
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			lanXML := direct(n.Parent)
			userGW := netip.MustParseAddr("10.0.2.2")
			steps := []struct {
				what   string
				xml    []byte
				subnet netip.Prefix
				gw     netip.Addr
				net6   netip.Prefix // the IPv6 prefix advertised there
				gw6    netip.Addr
			}{
				{"plug user", userXML, userNet, userGW, userNet6, userGW6},
				{"move user→direct", lanXML, n.Subnet, n.Router, n.Prefix6, n.Router6},
				{"move direct→user", userXML, userNet, userGW, userNet6, userGW6},
			}
			var old6 netip.Prefix
			for _, s := range steps {
				from := r.g.Seq()
				t0, apply := r.update(s.xml)
				addr, ping := waitOn(t, r, from, s.subnet, s.gw)
				r.onlyAddr(s.what, addr)
				logged := logs.Take()
				if s.what != "plug user" && !strings.Contains(logged, "carrier hold ended: the guest changed its receive filter") {
					t.Errorf("%s %s: the carrier hold did not end on the guest's reaction; log:\n%s", stack, s.what, logged)
				}
				t.Logf("%s %s (default hold): apply %v; from update start: address %s +%v, ping %s ok +%v",
					stack, s.what, ms(apply), addr, ms(addrTime(r, from, addr).Sub(t0)), s.gw, ms(ping.Time.Sub(t0)))
				a6 := waitAddr6(t, r, from, s.net6)
				r.checkIPv6(s.what, s.net6, s.gw6, old6)
				t.Logf("%s %s: IPv6 address %s +%v, ping %s ok", stack, s.what, a6.Arg(0), ms(a6.Time.Sub(t0)), s.gw6)
				old6 = s.net6
			}
			from := r.g.Seq()
			t0, _ := r.update(noneXML)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if _, err := r.g.WaitEvent(ctx, from, guest.Match(guest.KindDelAddr)); err != nil {
				t.Fatalf("%s unplug: the guest kept its address: %v", stack, err)
			}
			if _, err := r.g.WaitEvent(ctx, from, guest.Match(guest.KindDelAddr6)); err != nil {
				t.Fatalf("%s unplug: the guest kept its IPv6 address: %v", stack, err)
			}
			r.onlyAddr("unplug", netip.Prefix{})
			if out, _ := r.exec("ip -6 -o addr show dev eth0 scope global; ip -6 -o addr show dev eth0 scope site"); out != "" {
				t.Errorf("%s unplug: eth0 kept IPv6 addresses:\n%s", stack, out)
			}
			t.Logf("%s unplug: address gone +%v", stack, ms(time.Since(t0)))
		})
	}
}

// waitOn waits, from event from, for the guest's stack to put an address
// in subnet on eth0 and ping gw after it. An address outside subnet after
// the last carrier 1 fails (the guest kept or re-took the old network).
func waitOn(t *testing.T, r *rig, from int, subnet netip.Prefix, gw netip.Addr) (netip.Prefix, guest.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var addr netip.Prefix
	for ev, err := range r.g.Watch(ctx, from) {
		if err != nil {
			t.Fatalf("waiting for an address in %s and a ping of %s: %v\nevents: %q", subnet, gw, err, raws(r.g.Events()[from:]))
		}
		switch ev.Kind {
		case guest.KindAddr:
			p, err := netip.ParsePrefix(ev.Arg(0))
			if err == nil && subnet.Contains(p.Addr()) {
				addr = p
			}
		case guest.KindPing:
			if addr.IsValid() && ev.Arg(0) == gw.String() && ev.Arg(1) == "ok" {
				return addr, ev
			}
		}
	}
	t.Fatalf("event stream ended")
	return netip.Prefix{}, guest.Event{}
}

// addrTime is when the guest reported addr after event from.
func addrTime(r *rig, from int, addr netip.Prefix) time.Time {
	for _, ev := range r.g.Events()[from:] {
		if ev.Kind == guest.KindAddr && ev.Arg(0) == addr.String() {
			return ev.Time
		}
	}
	return time.Time{}
}

// onlyAddr checks that eth0's IPv4 addresses are exactly want (none for
// the zero prefix): the old network's address is gone.
func (r *rig) onlyAddr(what string, want netip.Prefix) {
	r.t.Helper()
	out, _ := r.exec("ip -4 -o addr show dev eth0")
	var got []string
	for f := range strings.FieldsSeq(out) {
		if p, err := netip.ParsePrefix(f); err == nil {
			got = append(got, p.String())
		}
	}
	var w []string
	if want.IsValid() {
		w = []string{want.String()}
	}
	if !slices.Equal(got, w) {
		r.t.Errorf("%s: guest's eth0 has addresses %q, want %q", what, got, w)
	}
}

func raws(evs []guest.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Raw
	}
	return out
}

// QEMU's user network advertises the site-local fec0::/64 (libslirp's
// default) and answers at fec0::2.
var (
	userNet6 = netip.MustParsePrefix("fec0::/64")
	userGW6  = netip.MustParseAddr("fec0::2")
)

// waitAddr6 waits, from event from, for the guest to report a usable IPv6
// address in prefix (SLAAC from the network's router advertisements).
func waitAddr6(t *testing.T, r *rig, from int, prefix netip.Prefix) guest.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ev, err := r.g.WaitEvent(ctx, from, func(ev guest.Event) bool {
		p, err := netip.ParsePrefix(ev.Arg(0))
		return ev.Kind == guest.KindAddr6 && err == nil && prefix.Contains(p.Addr())
	})
	if err != nil {
		out, _ := r.exec("ip -6 -o addr show dev eth0")
		t.Fatalf("no IPv6 address in %s: %v\neth0:\n%s\nevents: %q", prefix, err, out, raws(r.g.Events()[from:]))
	}
	return ev
}

// checkIPv6 checks that the guest reaches gw6 over IPv6 and that eth0
// holds no address in old (the previous network's prefix), unless old is
// zero.
func (r *rig) checkIPv6(what string, net6 netip.Prefix, gw6 netip.Addr, old netip.Prefix) {
	r.t.Helper()
	if !r.ping("-6 " + gw6.String()) {
		r.t.Errorf("%s: guest does not reach %s over IPv6", what, gw6)
	}
	out, _ := r.exec("ip -6 -o addr show dev eth0")
	r.t.Logf("%s: eth0 IPv6:\n%s", what, out)
	if !old.IsValid() {
		return
	}
	for f := range strings.FieldsSeq(out) {
		if p, err := netip.ParsePrefix(f); err == nil && old.Contains(p.Addr()) {
			r.t.Errorf("%s: guest kept %s of the old network's prefix %s", what, p, old)
		}
	}
}
