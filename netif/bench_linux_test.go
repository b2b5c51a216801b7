package netif

import (
	"context"
	"net"
	"os/exec"
	"testing"

	"github.com/vishvananda/netlink"
)

// BenchmarkMacvtapCycle measures CreateMacvtap + Open (1 queue) + Delete.
func BenchmarkMacvtapCycle(b *testing.B) { benchMacvtap(b, true) }

// BenchmarkMacvtapCreateDelete measures CreateMacvtap + Delete, no Open:
// the cost of Open is the difference to BenchmarkMacvtapCycle.
func BenchmarkMacvtapCreateDelete(b *testing.B) { benchMacvtap(b, false) }

// benchMacvtap creates, opens if open, and deletes a macvtap per op.
func benchMacvtap(b *testing.B, open bool) {
	n := newTestNetns(b)
	n.veth(b, "p0", "p1")
	ctx := context.Background()
	cfg := &MacvtapConfig{Parent: "p0", Mode: MacvtapBridge, MAC: net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1}, Owner: Owner{"vm", "net0"}, Netns: n.Path}
	for b.Loop() {
		l, err := CreateMacvtap(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if open {
			if _, err := l.Open(ctx, &OpenOptions{VnetHdr: true}); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Delete(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineNetlinkAddDel is the floor: bare netlink add and delete
// of a macvtap on a handle already open in the namespace.
func BenchmarkBaselineNetlinkAddDel(b *testing.B) {
	n := newTestNetns(b)
	n.veth(b, "p0", "p1")
	h := n.handle(b)
	parent, err := h.LinkByName("p0")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		la := netlink.NewLinkAttrs()
		la.Name = "npbench0"
		la.ParentIndex = parent.Attrs().Index
		la.TxQLen = 1000
		mv := &netlink.Macvtap{Macvlan: netlink.Macvlan{LinkAttrs: la, Mode: netlink.MACVLAN_MODE_BRIDGE}}
		if err := h.LinkAdd(mv); err != nil {
			b.Fatal(err)
		}
		if err := h.LinkDel(mv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineIPLink is what a shell-out costs: `ip link add` and
// `ip link del` of a macvtap.
func BenchmarkBaselineIPLink(b *testing.B) {
	n := newTestNetns(b)
	n.veth(b, "p0", "p1")
	for b.Loop() {
		if out, err := exec.Command("ip", "-n", n.Name, "link", "add", "link", "p0", "name", "npbench0", "type", "macvtap", "mode", "bridge").CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		if out, err := exec.Command("ip", "-n", n.Name, "link", "del", "npbench0").CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}
