package lab_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/lab"
	"github.com/nicplug/nicplug/internal/testenv"
)

func TestNewNetworkBadNames(t *testing.T) {
	if _, err := exec.LookPath("busybox"); err != nil {
		testenv.Skip(t, "busybox not found")
	}
	for _, c := range []struct {
		cfg  lab.NetworkConfig
		want string
	}{
		{lab.NetworkConfig{Parent: "nph2-much-too-long"}, "nph2-much-too-long"},
		{lab.NetworkConfig{Parent: "nph2ok", Bridge: "nph2 br"}, "nph2 br"},
		{lab.NetworkConfig{Parent: "nph2p", Bridge: "nph2p"}, "nph2p"},
		{lab.NetworkConfig{Parent: "nph2p", Bridge: "nph2pr"}, "nph2pr"}, // the peer's name
		{lab.NetworkConfig{Netns: "/tmp/nph2-not-a-netns"}, "/tmp/nph2-not-a-netns"},
		{lab.NetworkConfig{Prefix: "nph2/"}, "nph2/"},
	} {
		n, err := lab.NewNetwork(t.Context(), &c.cfg)
		if err == nil {
			n.Close()
			t.Errorf("NewNetwork(%+v) succeeded, want an error", c.cfg)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewNetwork(%+v) = %v, want an error naming %q", c.cfg, err, c.want)
		}
	}
}

// TestIntegrationSharedNetworks builds what a tap-datapath move test
// needs: a macvtap-parent LAN and two bridge LANs whose host sides share
// one namespace, each with its own DHCP server and subnet. A DHCP client
// on a port of each bridge gets a lease from that bridge's LAN only;
// closing a network that shares the namespace removes its links and
// nothing else.
func TestIntegrationSharedNetworks(t *testing.T) {
	testenv.RequireRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	mk := func(cfg *lab.NetworkConfig) *lab.Network {
		t.Helper()
		cfg.Prefix = "nph2-"
		n, err := lab.NewNetwork(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	d := mk(&lab.NetworkConfig{Parent: "nph2d0", Subnet: netip.MustParsePrefix("192.168.81.0/24")})
	b1 := mk(&lab.NetworkConfig{Netns: d.Netns, Parent: "nph2b1", Bridge: "nph2br1", Subnet: netip.MustParsePrefix("192.168.82.0/24")})
	b2 := mk(&lab.NetworkConfig{Netns: d.Netns, Parent: "nph2b2", Bridge: "nph2br2", Subnet: netip.MustParsePrefix("192.168.83.0/24")})
	for _, n := range []*lab.Network{d, b1, b2} {
		if !strings.HasPrefix(filepath.Base(n.LANNetns), "nph2-") {
			t.Errorf("LAN namespace %s lacks the prefix", n.LANNetns)
		}
	}
	if b1.Netns != d.Netns || b2.Netns != d.Netns {
		t.Fatalf("host-side namespaces %s, %s, want %s", b1.Netns, b2.Netns, d.Netns)
	}
	if b1.Bridge != "nph2br1" || b1.Parent != "nph2b1" || b1.Peer != "nph2b1r" || d.Bridge != "" || d.Peer != "nph2d0r" {
		t.Errorf("names: %+v, %+v", b1, d)
	}
	if got, err := d.Links(ctx, "bridge"); err != nil || !slices.Equal(sorted(got), []string{"nph2br1", "nph2br2"}) {
		t.Errorf("bridges in the host namespace: %q, %v", got, err)
	}
	if got, err := d.Links(ctx, "veth"); err != nil || !slices.Equal(sorted(got), []string{"nph2b1", "nph2b2", "nph2d0"}) {
		t.Errorf("veths in the host namespace: %q, %v", got, err)
	}
	host := filepath.Base(d.Netns)
	if out := ipOut(t, "-n", host, "-o", "link", "show", "nph2b1"); !strings.Contains(out, "master nph2br1") || !strings.Contains(out, "state UP") {
		t.Errorf("nph2b1 is not an up port of nph2br1: %s", out)
	}

	// A DHCP client behind each bridge, in a namespace of its own.
	for _, n := range []*lab.Network{b1, b2} {
		addr := dhcpBehind(t, ctx, n)
		if !n.Subnet.Contains(addr) {
			t.Errorf("a client on %s leased %s, want an address in %s", n.Bridge, addr, n.Subnet)
		}
	}

	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b2.LANNetns); !os.IsNotExist(err) {
		t.Errorf("LAN namespace %s still there: %v", b2.LANNetns, err)
	}
	if got, err := d.Links(ctx, ""); err != nil || !slices.Equal(sorted(got), []string{"lo", "nph2b1", "nph2br1", "nph2d0"}) {
		t.Errorf("links in the host namespace after closing %s: %q, %v", b2.Bridge, got, err)
	}
	if addr := dhcpBehind(t, ctx, b1); !b1.Subnet.Contains(addr) {
		t.Errorf("after closing another network, a client on %s leased %s", b1.Bridge, addr)
	}
	// Closing the network that owns the namespace first: the others'
	// Close still succeeds.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Netns); !os.IsNotExist(err) {
		t.Errorf("host namespace %s still there: %v", d.Netns, err)
	}
	if err := b1.Close(); err != nil {
		t.Errorf("Close after the shared namespace went: %v", err)
	}
	if _, err := os.Stat(b1.LANNetns); !os.IsNotExist(err) {
		t.Errorf("LAN namespace %s still there: %v", b1.LANNetns, err)
	}
}

// dhcpBehind plugs a fresh client namespace into n's bridge with a veth
// pair, runs one busybox udhcpc there and returns the address it leased.
// On a VLAN LAN (n.VLAN) the client's port is an access port of n's VLAN.
func dhcpBehind(t *testing.T, ctx context.Context, n *lab.Network) netip.Addr {
	t.Helper()
	var b [3]byte
	rand.Read(b[:])
	cl := "nph2-" + hex.EncodeToString(b[:]) + "-cl"
	host := filepath.Base(n.Netns)
	ipOut(t, "netns", "add", cl)
	defer ipOut(t, "netns", "del", cl)
	port := "nph2c" + hex.EncodeToString(b[:2])
	ipOut(t, "-n", host, "link", "add", port, "type", "veth", "peer", "name", "nph2cl0", "netns", cl)
	defer ipOut(t, "-n", host, "link", "del", port)
	ipOut(t, "-n", host, "link", "set", port, "master", n.Bridge, "up")
	if n.VLAN != 0 {
		for _, args := range [][]string{
			{"-n", host, "vlan", "add", "dev", port, "vid", strconv.Itoa(n.VLAN), "pvid", "untagged"},
			{"-n", host, "vlan", "del", "dev", port, "vid", "1"},
		} {
			if out, err := exec.Command("bridge", args...).CombinedOutput(); err != nil {
				t.Fatalf("bridge %s: %v: %s", strings.Join(args, " "), err, out)
			}
		}
	}
	ipOut(t, "-n", cl, "link", "set", "nph2cl0", "up")
	// -q: exit after the lease; -n: fail when none; the script /bin/true
	// configures nothing: udhcpc logs the lease.
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", cl, "busybox", "udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1",
		"-i", "nph2cl0", "-s", "/bin/true").CombinedOutput()
	if err != nil {
		t.Fatalf("udhcpc behind %s: %v: %s", n.Bridge, err, out)
	}
	// "udhcpc: lease of 192.168.82.100 obtained from 192.168.82.1, …"
	_, rest, ok := strings.Cut(string(out), "lease of ")
	a, perr := netip.ParseAddr(strings.Fields(rest + " x")[0])
	if !ok || perr != nil {
		t.Fatalf("udhcpc behind %s leased nothing: %s", n.Bridge, out)
	}
	return a
}

func ipOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
