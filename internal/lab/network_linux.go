package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nicplug/nicplug/internal/child"
)

// parentName and peerName are the ends of the veth pair.
const (
	parentName = "veth0"
	peerName   = "veth1"
)

// networkImpl holds what Close undoes.
type networkImpl struct {
	names   []string // namespaces created, in creation order
	dir     string   // udhcpd's config, leases and pid file
	udhcpd  *child.Process
	log     *child.Tail
	closeMu sync.Mutex
	closed  bool
}

// NewNetwork creates the LAN: namespaces, veth pair, router address and a
// running DHCP server, ready to answer when it returns. It needs root,
// iproute2's ip and busybox. On error nothing is left behind.
func NewNetwork(ctx context.Context, cfg *NetworkConfig) (_ *Network, err error) {
	if cfg == nil {
		cfg = &NetworkConfig{}
	}
	subnet := cfg.Subnet
	if !subnet.IsValid() {
		subnet = DefaultSubnet
	}
	if !subnet.Addr().Is4() || subnet.Bits() != 24 {
		return nil, fmt.Errorf("lab: subnet %s is not an IPv4 /24", subnet)
	}
	subnet = subnet.Masked()
	base := subnet.Addr().As4()
	router := base
	router[3] = 1
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	var b [3]byte
	rand.Read(b[:])
	id := "nplab-" + hex.EncodeToString(b[:])
	n := &Network{
		Parent: parentName,
		Subnet: subnet,
	}
	n.Router = netip.AddrFrom4(router)
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	up, lan := id+"-up", id+"-lan"
	for _, ns := range []string{up, lan} {
		if err := ip(ctx, "netns", "add", ns); err != nil {
			return nil, err
		}
		n.impl.names = append(n.impl.names, ns)
	}
	n.Netns, n.LANNetns = "/run/netns/"+up, "/run/netns/"+lan
	for _, args := range [][]string{
		{"-n", up, "link", "set", "lo", "up"},
		{"-n", lan, "link", "set", "lo", "up"},
		{"-n", up, "link", "add", parentName, "type", "veth", "peer", "name", peerName, "netns", lan},
		{"-n", up, "link", "set", parentName, "up"},
		{"-n", lan, "addr", "add", n.Router.String() + "/24", "dev", peerName},
		{"-n", lan, "link", "set", peerName, "up"},
	} {
		if err := ip(ctx, args...); err != nil {
			return nil, err
		}
	}

	if n.impl.dir, err = os.MkdirTemp("", id+"-"); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	first, last := base, base
	first[3], last[3] = 100, 199
	conf := filepath.Join(n.impl.dir, "udhcpd.conf")
	text := strings.Join([]string{
		"start " + netip.AddrFrom4(first).String(),
		"end " + netip.AddrFrom4(last).String(),
		"max_leases 100",
		"interface " + peerName,
		"lease_file " + filepath.Join(n.impl.dir, "udhcpd.leases"),
		"pidfile " + filepath.Join(n.impl.dir, "udhcpd.pid"),
		"option subnet 255.255.255.0",
		"option router " + n.Router.String(),
		"option lease 3600",
		"",
	}, "\n")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	n.impl.log = child.NewTail(4 << 10)
	var out io.Writer = n.impl.log
	if cfg.Stderr != nil {
		out = io.MultiWriter(n.impl.log, cfg.Stderr)
	}
	// -f: foreground, -a 0: no 2 s ARP probe per offered address.
	cmd := exec.Command("ip", "netns", "exec", lan, busybox, "udhcpd", "-f", "-a", "0", conf)
	cmd.Stdout, cmd.Stderr = out, out
	if n.impl.udhcpd, err = child.Start(cmd); err != nil {
		return nil, fmt.Errorf("lab: start udhcpd: %w", err)
	}
	if err := n.waitDHCP(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// waitDHCP waits until udhcpd (which ip netns exec became) listens on UDP
// port 67 in its namespace.
func (n *Network) waitDHCP(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/udp", n.impl.udhcpd.Pid()))
		if err == nil && bytes.Contains(b, []byte(":0043 ")) {
			return nil
		}
		select {
		case <-n.impl.udhcpd.Done():
			return fmt.Errorf("lab: udhcpd exited (%v): %s", n.impl.udhcpd.Err(), n.impl.log)
		case <-ctx.Done():
			return fmt.Errorf("lab: waiting for udhcpd: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// Macvtaps returns the names of the macvtap links in Netns.
func (n *Network) Macvtaps(ctx context.Context) ([]string, error) {
	name := filepath.Base(n.Netns)
	out, err := exec.CommandContext(ctx, "ip", "-n", name, "-o", "link", "show", "type", "macvtap").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("lab: ip -n %s link show type macvtap: %w: %s", name, err, bytes.TrimSpace(out))
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// "7: npmvt1a2b3c@veth0: <BROADCAST,…"
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		nm, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		names = append(names, nm)
	}
	return names, nil
}

// Log returns the last lines udhcpd wrote.
func (n *Network) Log() string {
	if n.impl.log == nil {
		return ""
	}
	return n.impl.log.String()
}

// Close stops the DHCP server and deletes the namespaces (with the veth pair
// and any link left in them) and the temporary files. It is safe to call
// more than once.
func (n *Network) Close() error {
	n.impl.closeMu.Lock()
	defer n.impl.closeMu.Unlock()
	if n.impl.closed {
		return nil
	}
	n.impl.closed = true
	var errs []error
	if n.impl.udhcpd != nil {
		n.impl.udhcpd.Kill()
	}
	// A fresh context: cleanup must run after the caller's is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := len(n.impl.names) - 1; i >= 0; i-- {
		if err := ip(ctx, "netns", "del", n.impl.names[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if n.impl.dir != "" {
		if err := os.RemoveAll(n.impl.dir); err != nil {
			errs = append(errs, fmt.Errorf("lab: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ip runs iproute2's ip.
func ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("lab: ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
