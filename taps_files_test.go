package nicplug_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
)

// TestIntegrationTapFilesVhost: for a <driver name='vhost' queues='2'/>
// NIC, Taps.Files opens the tap's two queues and one vhost-net fd per
// queue pair, numbered after them, so that QEMU needs no access to
// /dev/vhost-net (vhostfds=); a vhost-net that cannot be opened fails
// Files with every fd it opened closed. This kernel has no vhost-net:
// /dev/null stands in for it here (the fds are only counted and named);
// QEMU running on them is TestIntegrationTapVhost, in internal/kernelvm.
func TestIntegrationTapFilesVhost(t *testing.T) {
	ns := newTestNetns(t)
	saved := nicplug.VhostNetDevice
	t.Cleanup(func() { nicplug.VhostNetDevice = saved })
	nicplug.VhostNetDevice = "/dev/null"
	xml := fmt.Sprintf(`<domain type='kvm'><name>filesvhost</name><devices><interface type='none'><mac address='52:54:00:00:00:01'/><model type='virtio'/>%s</interface></devices></domain>`,
		`<driver name='vhost' queues='2'/>`)
	d, err := domain.ParseDomain([]byte(xml), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	taps, err := nicplug.PrepareTaps(ctx, d, &nicplug.TapOptions{Netns: ns.path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := taps.Delete(context.Background()); err != nil {
			t.Error(err)
		}
	})
	before := countFDs(t)
	args, files, err := taps.Files(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	a := args["net0"]
	if !slices.Equal(a.FDs, []int{3, 4}) || !slices.Equal(a.VhostFDs, []int{5, 6}) || len(files) != 4 {
		t.Errorf("Files = %+v and %d files, want tap fds 3:4 and vhost-net fds 5:6 of 4 files", a, len(files))
	}
	for i, f := range files {
		if want := i >= 2; (f.Name() == nicplug.VhostNetDevice) != want {
			t.Errorf("file %d is %s", 3+i, f.Name())
		}
		f.Close()
	}
	qargs, err := d.QEMUArgsFor(&domain.ArgsOptions{Taps: args})
	if err != nil {
		t.Fatal(err)
	}
	if j := strings.Join(qargs, " "); !strings.Contains(j, `"fds":"3:4","vhost":true,"vhostfds":"5:6"`) {
		t.Errorf("QEMU args %s: want fds 3:4 with vhostfds 5:6", j)
	}

	nicplug.VhostNetDevice = "/nonexistent/vhost-net"
	if _, _, err := taps.Files(ctx, 3); err == nil || !strings.Contains(err.Error(), "nicplug: open taps: NIC net0: vhost-net: ") {
		t.Errorf("Files with vhost-net missing = %v, want an error naming the NIC and vhost-net", err)
	}
	if after := countFDs(t); after != before {
		t.Errorf("%d fds open after a failed Files, %d before", after, before)
	}
}
