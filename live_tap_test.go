package nicplug_test

import (
	"fmt"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
)

// TestIntegrationAttachRunningTap: without the domain, tap-datapath NICs
// are rebuilt from QEMU (queue count: <driver queues='N'/>) and the host
// (what the fixed tap is plugged into), their index taken from the free
// hub ids, and an update planned from that live domain moves them.
func TestIntegrationAttachRunningTap(t *testing.T) {
	ns := newTestNetns(t)
	t.Parallel()
	ctx := ctxT(t)
	name := fmt.Sprintf("livetap%d", vmSeq.Add(1))
	xml := domainXML(name,
		iface(macA, "direct", "<source dev='veth0' mode='bridge'/><driver queues='2'/>"),
		iface(macB, "user", ""),
		iface("52:54:00:00:00:03", "bridge", "<source bridge='br0'/><driver queues='3'/>"))
	r := newRigXML(t, ns, &nicplug.Config{CarrierHold: nicplug.NoCarrierHold}, name, []byte(xml))
	if err := r.vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	orig := r.vm.Domain()
	live, err := nicplug.LiveDomain(ctx, r.mon, r.host, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(live.NICs) != 3 {
		t.Fatalf("live domain has %d NICs, want 3", len(live.NICs))
	}
	for i, o := range orig.NICs {
		n := live.NICs[i]
		if n.DeviceID() != o.DeviceID() || n.MAC() != o.MAC() || n.Backend() != o.Backend() ||
			n.Datapath() != o.Datapath() || n.Queues() != o.Queues() {
			t.Errorf("live NIC %d: %s %s %s %s×%d, want %s %s %s %s×%d", i, n.DeviceID(), n.MAC(), n.Backend(), n.Datapath(), n.Queues(),
				o.DeviceID(), o.MAC(), o.Backend(), o.Datapath(), o.Queues())
		}
		if _, err := domain.Diff(n, o); err != nil {
			t.Errorf("live NIC %s: the original as an update: %v", o.DeviceID(), err)
		}
	}
	vm := r.attachRunning(ctx, name)
	if err := vm.UpdateDevice(ctx, []byte(iface(macA, "bridge", "<source bridge='br1'/><driver queues='2'/>"))); err != nil {
		t.Fatal(err)
	}
	ifs, err := vm.Interfaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if it := ifs[0]; it.Datapath != domain.DatapathTap || it.Backend != (domain.Backend{Type: domain.TypeBridge, Bridge: "br1"}) || it.Plug.Master != "br1" {
		t.Errorf("after the update: %+v, want the tap on bridge br1", it)
	}
}
