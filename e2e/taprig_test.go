package e2e_test

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/lab"
	"github.com/nicplug/nicplug/internal/testenv"
)

// tapNIC returns the test NIC on the tap datapath: type typ, inner
// elements, and <driver queues='queues'/>.
func tapNIC(typ, inner string, queues int) []byte {
	return iface(typ, fmt.Sprintf("%s\n  <driver queues='%d'/>", inner, queues))
}

// The tap-datapath NICs of the move tests: two queue pairs.
var tapNoneXML = tapNIC("none", "", 2)

func tapBridgeXML(br string) []byte {
	return tapNIC("bridge", fmt.Sprintf("\n  <source bridge='%s'/>", br), 2)
}

func tapDirectXML(parent string) []byte {
	return tapNIC("direct", fmt.Sprintf("\n  <source dev='%s' mode='bridge'/>", parent), 2)
}

func bridgeTo(br string) domain.Backend { return domain.Backend{Type: domain.TypeBridge, Bridge: br} }

// tapLANs are the networks a tap-datapath NIC moves between: a
// macvtap-parent LAN and two bridge LANs, each with its own DHCP server and
// subnet (so the guest's lease tells where it is), their host sides in one
// namespace, host, where the fixed tap lives (nicplug's Config.Netns).
// Every namespace and host link is named nph2….
type tapLANs struct {
	host     string // namespace path
	direct   *lab.Network
	br1, br2 *lab.Network
	all      []*lab.Network
	th       *backend.NetifHost
}

func newTapLANs(t *testing.T) *tapLANs {
	t.Helper()
	testenv.RequireRoot(t)
	for _, tool := range []string{"ip", "busybox", "radvd"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Skip(t, tool+" not found")
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	l := &tapLANs{}
	mk := func(cfg lab.NetworkConfig) *lab.Network {
		t.Helper()
		cfg.Prefix, cfg.Netns = "nph2-", l.host
		n, err := lab.NewNetwork(ctx, &cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("udhcpd of %s:\n%s", n.Subnet, n.Log())
			}
			if err := n.Close(); err != nil {
				t.Error(err)
			}
		})
		l.all = append(l.all, n)
		return n
	}
	l.direct = mk(lab.NetworkConfig{Parent: "nph2d0", Subnet: netip.MustParsePrefix("192.168.91.0/24")})
	l.host = l.direct.Netns
	l.br1 = mk(lab.NetworkConfig{Parent: "nph2b1", Bridge: "nph2br1", Subnet: netip.MustParsePrefix("192.168.92.0/24")})
	l.br2 = mk(lab.NetworkConfig{Parent: "nph2b2", Bridge: "nph2br2", Subnet: netip.MustParsePrefix("192.168.93.0/24")})
	l.th = backend.NewNetifHost(l.host)
	return l
}

// hostState is what the host shows of the NIC's fixed tap: what it is
// plugged into, and the VM's owned links ("name kind").
type hostState struct {
	Plug  backend.TapPlug
	Owned []string
}

func (r *rig) hostState(l *tapLANs) hostState {
	r.t.Helper()
	ctx := r.ctx()
	it := r.iface0()
	if it.Datapath != domain.DatapathTap || it.Tap == "" {
		r.t.Fatalf("Interfaces()[0] = %+v, want a NIC on the tap datapath", it)
	}
	var s hostState
	var err error
	if s.Plug, err = l.th.TapPlug(ctx, it.Tap); err != nil {
		r.t.Fatalf("read back tap %s: %v", it.Tap, err)
	}
	owned, err := l.th.ListOwned(ctx, r.vm.Name())
	if err != nil {
		r.t.Fatal(err)
	}
	for _, o := range owned {
		s.Owned = append(s.Owned, o.Name+" "+o.Kind)
	}
	slices.Sort(s.Owned)
	return s
}

// checkTap checks that the NIC is wired to want on the tap datapath, as
// nicplug reads it back and as the host shows it: its fixed tap enslaved
// to want's bridge, redirected both ways to the one macvlan on want's
// parent, or plugged into nothing; no other owned link; and no macvlan in
// the namespace but that one.
func (r *rig) checkTap(l *tapLANs, want domain.Backend) {
	r.t.Helper()
	it := r.iface0()
	tap := backend.TapName(r.vm.Name(), it.Device)
	if it.Tap != tap || it.Driver != "tap" || it.Backend != want || it.LinkUp != !want.IsNone() || it.MAC != guestMAC {
		r.t.Errorf("Interfaces()[0] = %+v, want tap %s, backend %v, link up %v", it, tap, want, !want.IsNone())
	}
	s := r.hostState(l)
	wantOwned := []string{tap + " tap"}
	mvs, err := l.direct.Links(r.ctx(), "macvlan")
	if err != nil {
		r.t.Fatal(err)
	}
	switch want.Type {
	case domain.TypeBridge:
		if p := s.Plug; p.Master != want.Bridge || p.VLAN != 0 || p.Redirect != "" || p.Back {
			r.t.Errorf("tap %s plugged into %+v, want bridge %s only", tap, s.Plug, want.Bridge)
		}
	case domain.TypeDirect:
		if s.Plug.Master != "" || s.Plug.Redirect == "" || !s.Plug.Back {
			r.t.Errorf("tap %s plugged into %+v, want redirects both ways with a macvlan", tap, s.Plug)
		}
		wantOwned = append(wantOwned, s.Plug.Redirect+" macvlan")
		slices.Sort(wantOwned)
		if !slices.Equal(mvs, []string{s.Plug.Redirect}) {
			r.t.Errorf("macvlans in the namespace: %q, want %s only", mvs, s.Plug.Redirect)
		}
	default:
		if p := s.Plug; p.Master != "" || p.Redirect != "" || p.Back {
			r.t.Errorf("tap %s plugged into %+v, want nothing", tap, s.Plug)
		}
	}
	if want.Type != domain.TypeDirect && len(mvs) != 0 {
		r.t.Errorf("macvlans left in the namespace: %q", mvs)
	}
	if !slices.Equal(s.Owned, wantOwned) {
		r.t.Errorf("owned links %q, want %q", s.Owned, wantOwned)
	}
}

// checkOnly checks that, of the LANs all, only on answers the guest, and
// that no other one does; on may be nil (unplugged). The guest probes every
// router at once with an ARP probe (sender 0.0.0.0, so independent of its
// addresses and routes: an ICMP ping of another subnet's router fails for
// want of a route even if the NIC were still on that LAN) and an ICMP ping.
// The current router must answer both, the others neither.
func (r *rig) checkOnly(what string, all []*lab.Network, on *lab.Network) {
	r.t.Helper()
	var cmd strings.Builder
	for _, n := range all {
		a := n.Router.String()
		// arping -D: duplicate address detection, exit 1 when a replies.
		fmt.Fprintf(&cmd, "(arping -D -q -c 1 -w 1 -I eth0 %s; echo arp %s $?) & (ping -c 1 -W 1 %s >/dev/null 2>&1; echo ping %s $?) & ", a, a, a, a)
	}
	cmd.WriteString("wait")
	out, code := r.exec(cmd.String())
	if code != 0 {
		r.t.Fatalf("%s: guest's probes: status %d: %s", what, code, out)
	}
	got := map[string]bool{} // "arp 192.168.92.1" → answered
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "arp" && (f[2] == "0" || f[2] == "1"):
			got["arp "+f[1]] = f[2] == "1"
		case f[0] == "ping":
			got["ping "+f[1]] = f[2] == "0"
		default:
			r.t.Fatalf("%s: guest's probe %q", what, line)
		}
	}
	for _, n := range all {
		for _, probe := range []string{"arp", "ping"} {
			k := probe + " " + n.Router.String()
			answered, ok := got[k]
			switch {
			case !ok:
				r.t.Errorf("%s: no result of the guest's %s in %q", what, k, out)
			case n == on && !answered:
				r.t.Errorf("%s: the current router does not answer the guest's %s", what, k)
			case n != on && answered:
				r.t.Errorf("%s: router %s of %s answers the guest's %s: still on that LAN", what, n.Router, n.Subnet, probe)
			}
		}
	}
}

// queueCounts returns how many rx and tx queues the guest's eth0 has.
func (r *rig) queueCounts() (rx, tx int) {
	r.t.Helper()
	out, code := r.exec("ls /sys/class/net/eth0/queues")
	if code != 0 {
		r.t.Fatalf("guest: ls queues: %s", out)
	}
	for f := range strings.FieldsSeq(out) {
		switch {
		case strings.HasPrefix(f, "rx-"):
			rx++
		case strings.HasPrefix(f, "tx-"):
			tx++
		}
	}
	return rx, tx
}
