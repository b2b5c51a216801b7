package nicplug_test

import (
	"context"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/nicplug/nicplug/qmp"
)

// TestIntegrationOldHubPortName: a backend attached by an older nicplug,
// whose hub port is named "<backend>.hp", reads back as attached; an
// unplug deletes that port by its name and a re-plug uses today's name.
func TestIntegrationOldHubPortName(t *testing.T) {
	testenv.RequireQEMU(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	user := domain.Backend{Type: domain.TypeUser}
	be := backend.BackendID("net0", 1, user)
	old := be.String() + ".hp"
	q, dom := startDomain(t, domainXML("oldport", iface("52:54:00:00:00:51", "user", "")))
	mon, err := qmp.Dial(ctx, q.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	// What an older nicplug's start plan left: the backend on the hub
	// through an old-style port, and the guest running.
	for _, args := range []map[string]any{
		{"type": "user", "id": be.String()},
		{"type": "hubport", "id": old, "hubid": 0, "netdev": be.String()},
	} {
		if _, err := mon.Execute(ctx, "netdev_add", args); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := mon.Execute(ctx, "cont", nil); err != nil {
		t.Fatal(err)
	}
	vm, err := nicplug.NewVMForTest(mon, keepOpen{}, dom, &nicplug.Config{Host: emptyHost{}, CarrierHold: nicplug.NoCarrierHold})
	if err != nil {
		t.Fatal(err)
	}
	ifs, err := vm.Interfaces(ctx)
	if err != nil || len(ifs) != 1 || ifs[0].BackendID != be.String() || ifs[0].Backend != user {
		t.Fatalf("Interfaces with an old-style hub port = %+v, %v; want %s attached", ifs, err, be)
	}
	again, err := vm.PlanUpdate(ctx, []byte(iface("52:54:00:00:00:51", "user", "")))
	if err != nil || again.Kind != nicplug.KindNoop {
		t.Errorf("the configured backend through an old-style port: plan %v, %v; want noop", again, err)
	}
	if err := vm.UpdateDevice(ctx, []byte(iface("52:54:00:00:00:51", "none", ""))); err != nil {
		t.Fatal(err)
	}
	st, err := nicplug.ReadStateForTest(ctx, mon, emptyHost{}, "oldport", dom)
	if err != nil {
		t.Fatal(err)
	}
	if ns, _ := st.NIC("net0"); len(ns.Backends) != 0 || len(ns.StrayPorts) != 0 {
		t.Errorf("after the unplug: backends %v, stray ports %v", ns.Backends, ns.StrayPorts)
	}
	if err := vm.UpdateDevice(ctx, []byte(iface("52:54:00:00:00:51", "user", ""))); err != nil {
		t.Fatal(err)
	}
	st, err = nicplug.ReadStateForTest(ctx, mon, emptyHost{}, "oldport", dom)
	if err != nil {
		t.Fatal(err)
	}
	if ns, _ := st.NIC("net0"); len(ns.Backends) != 1 || ns.Backends[0].Port != "np.net0.p1" {
		t.Errorf("after the re-plug: backends %v, want one on hub port np.net0.p1 (today's name)", ns.Backends)
	}
}
