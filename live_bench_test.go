package nicplug_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
)

// BenchmarkFirstPlan compares, on one real QEMU with five NICs, the time
// from nothing to a first plan: a VM made from the domain XML (parse,
// read-back, plan) vs one attached without it ([nicplug.AttachRunning]:
// query-name, read-back, qom-list and qom-get of every NIC, host links,
// rebuild, then read-back and plan).
func BenchmarkFirstPlan(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("skipping, not root: the domain has a macvtap and a bridge tap")
	}
	ns := newTestNetns(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const name = "benchlive"
	xml := liveXML(name)
	r := newRigXML(b, ns, &nicplug.Config{CarrierHold: nicplug.NoCarrierHold}, name, xml)
	if err := r.vm.Start(ctx); err != nil {
		b.Fatal(err)
	}
	upd := []byte(`<interface type='none'><mac address='52:54:00:00:01:02'/><model type='virtio'/></interface>`)
	cfg := &nicplug.Config{Host: r.host, CarrierHold: nicplug.NoCarrierHold}
	plan := func(b *testing.B, vm *nicplug.VM) {
		p, err := vm.PlanUpdate(ctx, upd)
		if err != nil {
			b.Fatal(err)
		}
		if p.Kind != nicplug.KindUnplug {
			b.Fatalf("plan kind %s, want unplug", p.Kind)
		}
	}
	b.Run("with-domain", func(b *testing.B) {
		for b.Loop() {
			dom, err := domain.ParseDomain(xml, nil)
			if err != nil {
				b.Fatal(err)
			}
			vm, err := nicplug.NewVMForTest(r.mon, keepOpen{}, dom, cfg)
			if err != nil {
				b.Fatal(err)
			}
			plan(b, vm)
		}
	})
	b.Run("without-domain", func(b *testing.B) {
		for b.Loop() {
			vm, err := nicplug.AttachRunningForTest(ctx, r.mon, keepOpen{}, name, cfg)
			if err != nil {
				b.Fatal(err)
			}
			plan(b, vm)
		}
	})
}
