package nicplug_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationManyVMs runs 8 QEMUs, attached through the front door
// (Attach), and updates them all at once: per VM one goroutine cycles
// plug/switch/unplug while another updates the link and a third reads the
// wiring back. Every update must succeed and every VM must end as the last
// update on it says.
func TestIntegrationManyVMs(t *testing.T) {
	testenv.RequireQEMU(t)
	const vms, rounds = 8, 3
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type vmRig struct {
		vm  *nicplug.VM
		nic string // the backend cycle's NIC
	}
	rigs := make([]vmRig, vms)
	for i := range rigs {
		xml := domainXML(fmt.Sprintf("many%d", i), xNone, iface(macB, "user", ""))
		q, _ := startDomain(t, xml)
		vm, err := nicplug.Attach(ctx, q.Socket, xml, &nicplug.Config{Host: emptyHost{}, CarrierHold: nicplug.NoCarrierHold})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { vm.Close() })
		if err := vm.Start(ctx); err != nil {
			t.Fatal(err)
		}
		rigs[i] = vmRig{vm: vm}
	}
	var wg sync.WaitGroup
	errs := make(chan error, vms*3)
	for i, r := range rigs {
		server := iface(macA, "server", fmt.Sprintf("<source address='127.0.0.1' port='%d'/>", 46100+i))
		cycle := []string{xUser, server, xUser, xNone}
		wg.Add(3)
		go func() { // backends of net0
			defer wg.Done()
			for range rounds {
				for _, x := range cycle {
					if err := r.vm.UpdateDevice(ctx, []byte(x)); err != nil {
						errs <- fmt.Errorf("%s net0: %w", r.vm.Name(), err)
						return
					}
				}
			}
		}()
		go func() { // link of net1
			defer wg.Done()
			for j := range rounds * len(cycle) {
				x := iface(macB, "user", "")
				if j%2 == 0 {
					x = iface(macB, "user", "<link state='down'/>")
				}
				if err := r.vm.UpdateDevice(ctx, []byte(x)); err != nil {
					errs <- fmt.Errorf("%s net1: %w", r.vm.Name(), err)
					return
				}
			}
		}()
		go func() { // readers
			defer wg.Done()
			for range rounds * len(cycle) {
				ifs, err := r.vm.Interfaces(ctx)
				if err != nil {
					errs <- fmt.Errorf("%s interfaces: %w", r.vm.Name(), err)
					return
				}
				if len(ifs) != 2 || ifs[1].BackendID == "" {
					errs <- fmt.Errorf("%s interfaces: %+v", r.vm.Name(), ifs)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	user := backend.SpecHash(domain.Backend{Type: domain.TypeUser})
	for _, r := range rigs {
		ifs, err := r.vm.Interfaces(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ifs[0].BackendID != "" || ifs[0].LinkUp {
			t.Errorf("%s net0 = %+v, want unplugged", r.vm.Name(), ifs[0])
		}
		id, err := backend.ParseNetdevID(ifs[1].BackendID)
		if err != nil || id.Hash != user || !ifs[1].LinkUp || id.Gen != 1 {
			t.Errorf("%s net1 = %+v, want its first user backend, link up", r.vm.Name(), ifs[1])
		}
	}
}
