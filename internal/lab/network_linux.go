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

// parentName and peerName are the default ends of the veth pair.
const (
	parentName = "veth0"
	peerName   = "veth1"
)

// maxIfname is the longest interface name (IFNAMSIZ - 1).
const maxIfname = 15

// networkImpl holds what Close undoes.
type networkImpl struct {
	names    []string // namespaces created, in creation order
	links    []string // links created in a shared Netns, in creation order
	dir      string   // udhcpd's config, leases and pid file
	udhcpd   *child.Process
	log      *child.Tail
	radvd    *child.Process
	radvdLog *child.Tail
	shared   string // the caller's host-side namespace (NetworkConfig.Netns)
	closeMu  sync.Mutex
	closed   bool
}

// NewNetwork creates the LAN: namespaces, veth pair, router addresses, a
// running DHCP server and a router advertisement daemon (radvd) for the
// IPv6 prefix, ready to answer when it returns. It needs root, iproute2's
// ip, busybox and radvd. On error nothing is left behind.
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
	p6 := cfg.Prefix6
	if !p6.IsValid() {
		p6 = prefix6(subnet)
	}
	if !p6.Addr().Is6() || p6.Addr().Is4In6() || p6.Bits() != 64 {
		return nil, fmt.Errorf("lab: IPv6 prefix %s is not an IPv6 /64", p6)
	}
	p6 = p6.Masked()
	base := subnet.Addr().As4()
	router := base
	router[3] = 1
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	parent, peer := parentName, peerName
	if cfg.Parent != "" {
		// The peer lives in the LAN namespace, named after the parent.
		parent, peer = cfg.Parent, cfg.Parent+"r"
	}
	for _, name := range []string{parent, peer, cfg.Bridge} {
		if len(name) > maxIfname || strings.ContainsAny(name, "/ \t\n:") {
			return nil, fmt.Errorf("lab: bad interface name %q (at most %d characters, no '/', ':' or spaces)", name, maxIfname)
		}
	}
	if cfg.Bridge != "" && (cfg.Bridge == parent || cfg.Bridge == peer) {
		return nil, fmt.Errorf("lab: bridge %q has the name of a veth end", cfg.Bridge)
	}
	if cfg.VLAN != 0 && (cfg.Bridge == "" || cfg.VLAN < 1 || cfg.VLAN > 4094) {
		return nil, fmt.Errorf("lab: VLAN %d: want 1-4094 and a Bridge", cfg.VLAN)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "/ \t\n") {
		return nil, fmt.Errorf("lab: bad name prefix %q", prefix)
	}
	var b [3]byte
	rand.Read(b[:])
	id := prefix + hex.EncodeToString(b[:])
	n := &Network{
		Parent:  parent,
		Peer:    peer,
		Bridge:  cfg.Bridge,
		VLAN:    cfg.VLAN,
		Subnet:  subnet,
		Prefix6: p6,
		Router6: p6.Addr().Next(),
	}
	n.Router = netip.AddrFrom4(router)
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	up, lan := id+"-up", id+"-lan"
	owned := []string{up, lan}
	if cfg.Netns != "" {
		if filepath.Dir(cfg.Netns) != "/run/netns" {
			return nil, fmt.Errorf("lab: host-side namespace %q is not under /run/netns", cfg.Netns)
		}
		if _, err := os.Stat(cfg.Netns); err != nil {
			return nil, fmt.Errorf("lab: host-side namespace: %w", err)
		}
		up, owned = cfg.Netns, []string{lan}
		n.impl.shared = cfg.Netns
	}
	for _, ns := range owned {
		if err := ip(ctx, "netns", "add", ns); err != nil {
			return nil, err
		}
		n.impl.names = append(n.impl.names, ns)
	}
	n.Netns, n.LANNetns = nsPath(up), nsPath(lan)
	if cfg.Netns == "" {
		if err := ip(ctx, "-n", up, "link", "set", "lo", "up"); err != nil {
			return nil, err
		}
	}
	upn := filepath.Base(n.Netns)
	if err := ip(ctx, "-n", lan, "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	// The router: no DAD (radvd can send at once), forwarding on (radvd
	// warns without it). A link moved into the namespace takes its
	// defaults.
	if err := sysctl(ctx, busybox, lan, "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.forwarding=1"); err != nil {
		return nil, err
	}
	// addLink creates a link in the host-side namespace and records it
	// for Close (which deletes it when the namespace is the caller's).
	addLink := func(name string, args ...string) error {
		if err := ip(ctx, append([]string{"-n", upn, "link", "add", name}, args...)...); err != nil {
			return err
		}
		n.impl.links = append(n.impl.links, name)
		return nil
	}
	if err := addLink(parent, "type", "veth", "peer", "name", peer, "netns", lan); err != nil {
		return nil, err
	}
	if cfg.Bridge != "" {
		if err := makeBridge(ctx, upn, cfg.Bridge, cfg.VLAN != 0, addLink); err != nil {
			return nil, err
		}
		for _, args := range [][]string{
			{"-n", upn, "link", "set", parent, "master", cfg.Bridge},
			{"-n", upn, "link", "set", cfg.Bridge, "up"},
		} {
			if err := ip(ctx, args...); err != nil {
				return nil, err
			}
		}
		if cfg.VLAN != 0 {
			if err := accessPort(ctx, upn, parent, cfg.VLAN); err != nil {
				return nil, err
			}
		}
	}
	if err := noHostIPv6(ctx, busybox, upn, cfg.Netns == "", parent, cfg.Bridge); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"-n", upn, "link", "set", parent, "up"},
		{"-n", lan, "addr", "add", n.Router.String() + "/24", "dev", peer},
		{"-n", lan, "addr", "add", n.Router6.String() + "/64", "dev", peer, "nodad"},
		{"-n", lan, "link", "set", peer, "up"},
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
		"interface " + peer,
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
	if err := n.startRadvd(ctx, lan, peer, cfg.Stderr); err != nil {
		return nil, err
	}
	return n, nil
}

// waitDHCP waits until udhcpd (which ip netns exec became) listens on UDP
// port 67 in its namespace.
func (n *Network) waitDHCP(ctx context.Context) error {
	return waitSocket(ctx, n.impl.udhcpd, "udhcpd", "udp", ":0043 ", n.impl.log)
}

// waitSocket waits until the process p (named name, its output in log)
// has a socket in its network namespace: /proc/PID/net/file lists one
// whose local address contains marker.
func waitSocket(ctx context.Context, p *child.Process, name, file, marker string, log *child.Tail) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", p.Pid(), file))
		if err == nil && bytes.Contains(b, []byte(marker)) {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("lab: %s exited (%v): %s", name, p.Err(), log)
		case <-ctx.Done():
			return fmt.Errorf("lab: waiting for %s: %w", name, ctx.Err())
		case <-tick.C:
		}
	}
}

// Macvtaps returns the names of the macvtap links in Netns.
func (n *Network) Macvtaps(ctx context.Context) ([]string, error) {
	return n.Links(ctx, "macvtap")
}

// Links returns the names of the links of kind typ (ip link's "type":
// macvlan, macvtap, tun, bridge, veth …) in Netns, or of every link when typ
// is "".
func (n *Network) Links(ctx context.Context, typ string) ([]string, error) {
	name := filepath.Base(n.Netns)
	args := []string{"-n", name, "-o", "link", "show"}
	if typ != "" {
		args = append(args, "type", typ)
	}
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("lab: ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
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
	if n.impl.radvd != nil {
		n.impl.radvd.Kill()
	}
	// A fresh context: cleanup must run after the caller's is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Links in a shared namespace first (deleting the veth end deletes
	// its peer): unless that namespace is already gone.
	if _, err := os.Stat(n.impl.shared); n.impl.shared != "" && err == nil {
		for i := len(n.impl.links) - 1; i >= 0; i-- {
			if err := ip(ctx, "-n", filepath.Base(n.impl.shared), "link", "del", n.impl.links[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
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

// nsPath is the path of the named namespace: name itself when it is a
// path already.
func nsPath(name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	return "/run/netns/" + name
}

// ip runs iproute2's ip.
func ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("lab: ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
