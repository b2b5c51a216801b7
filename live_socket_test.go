package nicplug_test

import (
	"fmt"
	"net"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/domain"
)

// TestIntegrationAttachRunningSockets: without the domain XML, a client
// socket and a multicast socket are rebuilt from `info network` (checked
// against the hash in their ids), so an update to the same backend sets
// only the unknown link and an unplug has an undo; a multicast socket with
// a local address and a udp socket, whose own addresses QEMU does not
// show, stay unknown.
func TestIntegrationAttachRunningSockets(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	name := fmt.Sprintf("sock%d", vmSeq.Add(1))
	mcastPort := 47300 + int(vmSeq.Add(1))%500
	ifaces := []string{
		fmt.Sprintf(`<interface type='client'><mac address='52:54:00:00:02:01'/><source address='127.0.0.1' port='%d'/><model type='virtio'/></interface>`, port),
		fmt.Sprintf(`<interface type='mcast'><mac address='52:54:00:00:02:02'/><source address='230.0.0.1' port='%d'/><model type='virtio'/></interface>`, mcastPort),
		fmt.Sprintf(`<interface type='mcast'><mac address='52:54:00:00:02:03'/><source address='230.0.0.1' port='%d'><local address='127.0.0.1'/></source><model type='virtio'/></interface>`, mcastPort+1),
		`<interface type='udp'><mac address='52:54:00:00:02:04'/><source address='127.0.0.1' port='47298'><local address='127.0.0.1' port='47299'/></source><model type='virtio'/></interface>`,
	}
	r := newRigXML(t, nil, nil, name, domainXML(name, ifaces...))
	if err := r.vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	orig := r.vm.Domain()
	live, err := nicplug.LiveDomain(ctx, r.mon, emptyHost{}, name)
	if err != nil {
		t.Fatal(err)
	}
	none := domain.Backend{Type: domain.TypeNone}
	want := []domain.Backend{orig.NICs[0].Backend(), orig.NICs[1].Backend(), none, none}
	for i, n := range live.NICs {
		if n.Backend() != want[i] {
			t.Errorf("live NIC %s: backend %s, want %s", n.DeviceID(), n.Backend(), want[i])
		}
	}

	attach := func() *nicplug.VM {
		t.Helper()
		vm, err := nicplug.AttachRunningForTest(ctx, r.mon, keepOpen{}, name, &nicplug.Config{Host: emptyHost{}, CarrierHold: nicplug.NoCarrierHold})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { vm.Close() })
		return vm
	}
	vm := attach()
	for _, x := range ifaces[:2] {
		p, err := vm.PlanUpdate(ctx, []byte(x))
		if err != nil {
			t.Fatal(err)
		}
		if p.Kind != nicplug.KindLink || len(p.Steps) != 1 {
			t.Errorf("the same socket backend again, link unknown:\n%s", p)
		}
		if err := vm.Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
		if p, err := vm.PlanUpdate(ctx, []byte(x)); err != nil || p.Kind != nicplug.KindNoop {
			t.Errorf("the same socket backend once the link is set: %v\n%s", err, p)
		}
	}
	// Unplugging the recovered client has an undo for every step: the
	// backend can be put back.
	p, err := vm.PlanUpdate(ctx, []byte(`<interface type='none'><mac address='52:54:00:00:02:01'/><model type='virtio'/></interface>`))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Steps {
		if len(s.Undo) == 0 {
			t.Errorf("unplug of the recovered client: step %s has no undo\n%s", s.Do, p)
		}
	}
	if err := vm.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got := r.attachedBackend(ctx, "net0"); got != "" {
		t.Errorf("net0 still has %s attached after the unplug", got)
	}
}
