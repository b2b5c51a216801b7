package domain_test

import (
	"testing"

	"github.com/nicplug/nicplug/domain"
)

// TestFromDevicesTap: tap-datapath NICs have no hub; they fill the indices
// the hub NICs leave free (their default id's index first) and come back
// with the <driver> that chose their datapath.
func TestFromDevicesTap(t *testing.T) {
	dev := func(id string, hub int, dp domain.Datapath, queues int) domain.Device {
		return domain.Device{ID: id, Driver: "virtio-net-pci", MAC: "52:54:00:00:00:0" + string(rune('1'+hub+1)), Hub: hub,
			DevFn: -1, BootIndex: -1, ROMBar: 1, ROMFile: "efi-virtio.rom", Datapath: dp, Queues: queues}
	}
	d, err := domain.FromDevices("vm1", "q35", []domain.Device{
		dev("lan", -1, domain.DatapathTap, 4),
		dev("net1", 1, domain.DatapathHub, 0),
		dev("net0", -1, domain.DatapathTap, 1),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id     string
		dp     domain.Datapath
		queues int
		vhost  bool
	}{{"net0", domain.DatapathTap, 1, true}, {"net1", domain.DatapathHub, 1, false}, {"lan", domain.DatapathTap, 4, false}}
	if len(d.NICs) != len(want) {
		t.Fatalf("%d NICs, want %d", len(d.NICs), len(want))
	}
	for i, w := range want {
		n := d.NICs[i]
		if n.DeviceID() != w.id || n.Datapath() != w.dp || n.Queues() != w.queues || n.Vhost() != w.vhost {
			t.Errorf("NIC %d: %s %s×%d vhost=%v, want %s %s×%d vhost=%v", i, n.DeviceID(), n.Datapath(), n.Queues(), n.Vhost(), w.id, w.dp, w.queues, w.vhost)
		}
	}
}
