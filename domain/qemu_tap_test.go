package domain_test

import (
	"strings"
	"testing"

	"github.com/nicplug/nicplug/domain"
)

// TestTapArgsFDs: inherited tap and vhost-net fds become fd=/fds= and
// vhostfd=/vhostfds= of the fixed tap's -netdev, and wrong counts or
// combinations are refused.
func TestTapArgsFDs(t *testing.T) {
	nic := func(driver string) string {
		return `<domain type='kvm'><name>t</name><devices><interface type='none'><mac address='52:54:00:00:00:01'/><model type='virtio'/>` +
			driver + `</interface></devices></domain>`
	}
	tests := []struct {
		name, driver string
		taps         domain.TapArgs
		want, err    string
	}{
		{"one queue, vhost fd", `<driver name='vhost'/>`, domain.TapArgs{FDs: []int{3}, VhostFDs: []int{4}},
			`{"type":"tap","id":"np.net0.tap","fd":"3","vhost":true,"vhostfd":"4"}`, ""},
		{"two queues, vhost fds", `<driver name='vhost' queues='2'/>`, domain.TapArgs{FDs: []int{3, 4}, VhostFDs: []int{5, 6}},
			`{"type":"tap","id":"np.net0.tap","fds":"3:4","vhost":true,"vhostfds":"5:6"}`, ""},
		{"vhost, QEMU opens it", `<driver name='vhost' queues='2'/>`, domain.TapArgs{FDs: []int{3, 4}},
			`{"type":"tap","id":"np.net0.tap","fds":"3:4","vhost":true}`, ""},
		{"queues without vhost", `<driver queues='2'/>`, domain.TapArgs{FDs: []int{3, 4}},
			`{"type":"tap","id":"np.net0.tap","fds":"3:4"}`, ""},
		{"vhost fds for a NIC without vhost", `<driver queues='2'/>`, domain.TapArgs{FDs: []int{3, 4}, VhostFDs: []int{5, 6}},
			"", "vhost-net fds were given for a NIC without <driver name='vhost'>"},
		{"too few vhost fds", `<driver name='vhost' queues='2'/>`, domain.TapArgs{FDs: []int{3, 4}, VhostFDs: []int{5}},
			"", "the NIC has 2 queues but 1 vhost-net fds were given"},
		{"vhost fds without tap fds", `<driver name='vhost'/>`, domain.TapArgs{Ifname: "tap0", VhostFDs: []int{5}},
			"", "vhost-net fds were given without tap fds"},
		{"negative vhost fd", `<driver name='vhost'/>`, domain.TapArgs{FDs: []int{3}, VhostFDs: []int{-1}},
			"", "vhost-net fd -1 is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := domain.ParseDomain([]byte(nic(tt.driver)), nil)
			if err != nil {
				t.Fatal(err)
			}
			args, err := d.QEMUArgsFor(&domain.ArgsOptions{Taps: map[string]domain.TapArgs{"net0": tt.taps}})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("QEMUArgsFor = %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if joined := strings.Join(args, "\n"); !strings.Contains(joined, "-netdev\n"+tt.want+"\n") {
				t.Errorf("args:\n%s\nwant the -netdev %s", joined, tt.want)
			}
		})
	}
}
