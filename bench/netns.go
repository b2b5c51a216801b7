package bench

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// netns is a private network namespace with two veth pairs: veth0 and
// veth2 are macvtap parents (their peers veth1, veth3 are up too).
type netns struct {
	name, path string
}

func isRoot() bool { return os.Geteuid() == 0 }

func newNetns() (*netns, error) {
	var b [4]byte
	rand.Read(b[:])
	n := &netns{name: "npbench-" + hex.EncodeToString(b[:])}
	n.path = "/run/netns/" + n.name
	if err := ipCmd("netns", "add", n.name); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "veth0", "type", "veth", "peer", "name", "veth1"},
		{"link", "add", "veth2", "type", "veth", "peer", "name", "veth3"},
		{"link", "set", "veth0", "up"},
		{"link", "set", "veth1", "up"},
		{"link", "set", "veth2", "up"},
		{"link", "set", "veth3", "up"},
	} {
		if err := ipCmd(append([]string{"-n", n.name}, args...)...); err != nil {
			n.close()
			return nil, err
		}
	}
	return n, nil
}

// close deletes the namespace and every link in it.
func (n *netns) close() error { return ipCmd("netns", "del", n.name) }

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("bench: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
