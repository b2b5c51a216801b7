package bench

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/nicplug/nicplug/internal/child"
)

// Host side of the tap network: 198.18.213.0/24 (RFC 2544's benchmarking
// range), the host at .1, a busybox udhcpd handing out .2–.20.
const (
	tapHostIP = "198.18.213.1"
	tapPrefix = "198.18.213."
)

// hostTap is a tap in this process's network namespace with the host
// address and a DHCP server on it.
type hostTap struct {
	name string
	dir  string
	dhcp *child.Process
}

func newHostTap() (*hostTap, error) {
	var b [3]byte
	rand.Read(b[:])
	t := &hostTap{name: "npbt" + hex.EncodeToString(b[:])}
	if err := ipCmd("tuntap", "add", "dev", t.name, "mode", "tap"); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"addr", "add", tapHostIP + "/24", "dev", t.name},
		{"link", "set", t.name, "up"},
	} {
		if err := ipCmd(args...); err != nil {
			t.close()
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "nicplug-bench-dhcp-")
	if err != nil {
		t.close()
		return nil, err
	}
	t.dir = dir
	conf := fmt.Sprintf("interface %s\nstart %s2\nend %s20\nlease_file %s/leases\noption subnet 255.255.255.0\noption router %s\noption lease 3600\n",
		t.name, tapPrefix, tapPrefix, dir, tapHostIP)
	if err := os.WriteFile(filepath.Join(dir, "udhcpd.conf"), []byte(conf), 0o644); err != nil {
		t.close()
		return nil, err
	}
	os.WriteFile(filepath.Join(dir, "leases"), nil, 0o644)
	dhcp, err := child.Start(exec.Command("busybox", "udhcpd", "-f", "-a", "0", filepath.Join(dir, "udhcpd.conf")))
	if err != nil {
		t.close()
		return nil, fmt.Errorf("bench: udhcpd: %w", err)
	}
	t.dhcp = dhcp
	return t, nil
}

func (t *hostTap) close() {
	if t.dhcp != nil {
		t.dhcp.Kill()
	}
	if t.dir != "" {
		os.RemoveAll(t.dir)
	}
	ipCmd("link", "del", t.name)
}
