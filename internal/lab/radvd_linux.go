package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nicplug/nicplug/internal/child"
)

// RA intervals of the lab's radvd: radvd's smallest (MinRtrAdvInterval at
// least 3 s, MaxRtrAdvInterval at least 4 s without Mobile IPv6), so a
// guest that does not solicit still hears the prefix within 4 s.
const (
	raMinInterval = 3
	raMaxInterval = 4
)

// prefix6 derives a network's IPv6 prefix from its IPv4 /24: the third
// octet's decimal digits read as hex make the /64's fourth group, so
// 192.168.77.0/24 advertises fd6e:706c:0:77::/64 (distinct subnets give
// distinct prefixes).
func prefix6(subnet netip.Prefix) netip.Prefix {
	b := subnet.Addr().As4()
	return netip.MustParsePrefix(fmt.Sprintf("fd6e:706c:0:%d::/64", b[2]))
}

// noHostIPv6 keeps the host side of the LAN a plain switch for IPv6: the
// parent (and bridge) in the host-side namespace accept no router
// advertisements, so the lab's RAs add no addresses there (and, in a
// namespace the Network created, neither do the links nicplug adds later).
func noHostIPv6(ctx context.Context, busybox, ns string, fresh bool, links ...string) error {
	var keys []string
	if fresh {
		keys = append(keys, "net.ipv6.conf.default.accept_ra=0", "net.ipv6.conf.all.accept_ra=0")
	}
	for _, l := range links {
		if l != "" {
			keys = append(keys, "net.ipv6.conf."+l+".accept_ra=0")
		}
	}
	return sysctl(ctx, busybox, ns, keys...)
}

// sysctl sets keys ("name=value") in namespace ns with busybox sysctl.
func sysctl(ctx context.Context, busybox, ns string, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	args := append([]string{"netns", "exec", ns, busybox, "sysctl", "-q", "-w"}, keys...)
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("lab: sysctl %s in %s: %w: %s", strings.Join(keys, " "), ns, err, bytes.TrimSpace(out))
	}
	return nil
}

// startRadvd runs radvd in the LAN namespace lan on peer, advertising
// n.Prefix6 (on-link, autonomous, radvd's default lifetimes) with
// n.Router6 on peer, and waits until it has its
// ICMPv6 socket.
func (n *Network) startRadvd(ctx context.Context, lan, peer string, stderr io.Writer) error {
	radvd, err := exec.LookPath("radvd")
	if err != nil {
		return fmt.Errorf("lab: %w (apt-get install radvd; scripts/install-deps.sh)", err)
	}
	text := fmt.Sprintf("interface %s {\n\tAdvSendAdvert on;\n\tMinRtrAdvInterval %d;\n\tMaxRtrAdvInterval %d;\n"+
		"\tprefix %s {\n\t\tAdvOnLink on;\n\t\tAdvAutonomous on;\n\t};\n};\n",
		peer, raMinInterval, raMaxInterval, n.Prefix6)
	conf := filepath.Join(n.impl.dir, "radvd.conf")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	n.impl.radvdLog = child.NewTail(4 << 10)
	var out io.Writer = n.impl.radvdLog
	if stderr != nil {
		out = io.MultiWriter(n.impl.radvdLog, stderr)
	}
	cmd := exec.Command("ip", "netns", "exec", lan, radvd, "--nodaemon", "--logmethod", "stderr",
		"--config", conf, "--pidfile", filepath.Join(n.impl.dir, "radvd.pid"))
	cmd.Stdout, cmd.Stderr = out, out
	if n.impl.radvd, err = child.Start(cmd); err != nil {
		return fmt.Errorf("lab: start radvd: %w", err)
	}
	// raw6's "local_address:port" holds the protocol: 3A is ICMPv6.
	return waitSocket(ctx, n.impl.radvd, "radvd", "raw6", ":003A ", n.impl.radvdLog)
}

// RALog returns the last lines radvd wrote.
func (n *Network) RALog() string {
	if n.impl.radvdLog == nil {
		return ""
	}
	return n.impl.radvdLog.String()
}
