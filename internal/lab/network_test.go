package lab_test

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/lab"
	"github.com/nicplug/nicplug/internal/testenv"
)

func TestNewNetworkBadSubnet(t *testing.T) {
	for _, s := range []string{"192.168.77.0/25", "10.0.0.0/16", "fd00::/64"} {
		n, err := lab.NewNetwork(t.Context(), &lab.NetworkConfig{Subnet: netip.MustParsePrefix(s)})
		if err == nil {
			n.Close()
			t.Errorf("NewNetwork(%s) succeeded, want an error", s)
		} else if !strings.Contains(err.Error(), s) {
			t.Errorf("NewNetwork(%s) = %v, want an error naming the subnet", s, err)
		}
	}
}

func TestNewNetworkBadPrefix6(t *testing.T) {
	for _, s := range []string{"fd00::/48", "::ffff:10.0.0.0/64"} {
		n, err := lab.NewNetwork(t.Context(), &lab.NetworkConfig{Prefix6: netip.MustParsePrefix(s)})
		if err == nil {
			n.Close()
			t.Errorf("NewNetwork(Prefix6 %s) succeeded, want an error", s)
		} else if !strings.Contains(err.Error(), "not an IPv6 /64") {
			t.Errorf("NewNetwork(Prefix6 %s) = %v, want an error naming it", s, err)
		}
	}
}

// TestIntegrationNetwork checks that a network has its namespaces, its
// DHCP server and its IPv6 router (radvd), and that Close removes them all.
func TestIntegrationNetwork(t *testing.T) {
	testenv.RequireRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	n, err := lab.NewNetwork(ctx, &lab.NetworkConfig{Subnet: netip.MustParsePrefix("192.168.78.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if want, got := "192.168.78.1", n.Router.String(); got != want {
		t.Errorf("Router = %s, want %s", got, want)
	}
	for _, ns := range []string{n.Netns, n.LANNetns} {
		if _, err := os.Stat(ns); err != nil {
			t.Errorf("namespace: %v", err)
		}
	}
	out, err := exec.Command("ip", "netns", "exec", strings.TrimPrefix(n.LANNetns, "/run/netns/"), "busybox", "ping", "-c", "1", "-W", "2", "192.168.78.1").CombinedOutput()
	if err != nil {
		t.Errorf("router does not answer in its namespace: %v: %s", err, out)
	}
	if want, got := "fd6e:706c:0:78::/64 fd6e:706c:0:78::1", n.Prefix6.String()+" "+n.Router6.String(); got != want {
		t.Errorf("Prefix6 Router6 = %s, want %s", got, want)
	}
	out, err = exec.Command("ip", "netns", "exec", strings.TrimPrefix(n.LANNetns, "/run/netns/"), "busybox", "ping6", "-c", "1", "-W", "2", n.Router6.String()).CombinedOutput()
	if err != nil {
		t.Errorf("IPv6 router does not answer in its namespace: %v: %s", err, out)
	}
	if strings.Contains(n.RALog(), "rror") {
		t.Errorf("radvd logged an error:\n%s", n.RALog())
	}
	if got, err := n.Macvtaps(ctx); err != nil || len(got) != 0 {
		t.Errorf("Macvtaps = %q, %v; want none", got, err)
	}
	if !strings.Contains(n.Log(), "udhcpd") {
		t.Errorf("udhcpd log %q lacks its start line", n.Log())
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, ns := range []string{n.Netns, n.LANNetns} {
		if _, err := os.Stat(ns); !os.IsNotExist(err) {
			t.Errorf("namespace %s still there after Close: %v", ns, err)
		}
	}
}
