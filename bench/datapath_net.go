package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/nicplug/nicplug/internal/child"
	vnetns "github.com/vishvananda/netns"
)

// The datapath part's network namespace (every name starts with nph3, so
// concurrent test sessions on the machine cannot collide): two bridges
// nph3br0 and nph3br1, a veth pair nph3v0/nph3v1 (nph3v0 is the direct
// backends' parent), the host address 198.18.214.1/24 on nph3br0 and a
// busybox udhcpd there handing out .2–.20.
const (
	dpBridge0 = "nph3br0"
	dpBridge1 = "nph3br1"
	dpParent  = "nph3v0"
	dpHostIP  = "198.18.214.1"
	dpPrefix  = "198.18.214."
)

type dpNet struct {
	name, path string
	dir        string
	dhcp       *child.Process
}

// newDPNet creates the namespace and its links; with dhcp, the host
// address and the DHCP server too.
func newDPNet(dhcp bool) (*dpNet, error) {
	var b [3]byte
	rand.Read(b[:])
	n := &dpNet{name: "nph3dp-" + hex.EncodeToString(b[:])}
	n.path = "/run/netns/" + n.name
	if err := ipCmd("netns", "add", n.name); err != nil {
		return nil, err
	}
	cmds := [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", dpBridge0, "type", "bridge"},
		{"link", "add", dpBridge1, "type", "bridge"},
		{"link", "add", dpParent, "type", "veth", "peer", "name", "nph3v1"},
		{"link", "set", dpBridge0, "up"},
		{"link", "set", dpBridge1, "up"},
		{"link", "set", dpParent, "up"},
		{"link", "set", "nph3v1", "up"},
	}
	if dhcp {
		cmds = append(cmds, []string{"addr", "add", dpHostIP + "/24", "dev", dpBridge0})
	}
	for _, args := range cmds {
		if err := ipCmd(append([]string{"-n", n.name}, args...)...); err != nil {
			n.close()
			return nil, err
		}
	}
	if !dhcp {
		return n, nil
	}
	dir, err := os.MkdirTemp("", "nicplug-bench-nph3-")
	if err != nil {
		n.close()
		return nil, err
	}
	n.dir = dir
	conf := fmt.Sprintf("interface %s\nstart %s2\nend %s20\nlease_file %s/leases\noption subnet 255.255.255.0\noption router %s\noption lease 3600\n",
		dpBridge0, dpPrefix, dpPrefix, dir, dpHostIP)
	if err := os.WriteFile(filepath.Join(dir, "udhcpd.conf"), []byte(conf), 0o644); err != nil {
		n.close()
		return nil, err
	}
	os.WriteFile(filepath.Join(dir, "leases"), nil, 0o644)
	// ip netns exec execs busybox: killing the child kills udhcpd.
	n.dhcp, err = child.Start(exec.Command("ip", "netns", "exec", n.name, "busybox", "udhcpd", "-f", "-a", "0", filepath.Join(dir, "udhcpd.conf")))
	if err != nil {
		n.close()
		return nil, fmt.Errorf("bench: udhcpd: %w", err)
	}
	return n, nil
}

func (n *dpNet) close() {
	if n.dhcp != nil {
		n.dhcp.Kill()
	}
	if n.dir != "" {
		os.RemoveAll(n.dir)
	}
	ipCmd("netns", "del", n.name)
}

// inNetns runs fn on an OS thread switched to the namespace at path; the
// sockets fn creates live there.
func inNetns(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is left locked if switching back fails: the runtime
		// then ends it with the goroutine.
		orig, err := vnetns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		ns, err := vnetns.GetFromPath(path)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := vnetns.Set(ns); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := vnetns.Set(orig); err != nil {
			errc <- fmt.Errorf("bench: back to the original netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// dialIn returns a dial function whose sockets live in the namespace.
func dialIn(path string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNetns(path, func() error {
			var err error
			d := net.Dialer{Timeout: 2 * time.Second}
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}
