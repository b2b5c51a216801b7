package nicplug_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationBadUpdates: updates that cannot apply fail with a clear
// error and change nothing, in QEMU or on the host.
func TestIntegrationBadUpdates(t *testing.T) {
	ns := newTestNetns(t)
	ctx := ctxT(t)
	r := newRig(t, ns, nil, "bad", xUser)
	if err := r.vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	before := r.snapshot(ctx)
	fds := countFDs(t)
	tests := []struct {
		name, xml, want string
	}{
		{"not xml", "<interface", "nicplug: update: "},
		{"unknown nic", iface("52:54:00:99:99:99", "user", ""), "nicplug: update: "},
		{"model change", `<interface type='user'><mac address='` + macA + `'/><model type='e1000'/></interface>`, "model"},
		{"bad macvtap mode", iface(macA, "direct", "<source dev='veth0' mode='bogus'/>"), "nicplug: update: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := r.vm.PlanUpdate(ctx, []byte(tt.xml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("PlanUpdate = %v, %v; want error containing %q", p, err, tt.want)
			}
			if !errors.Is(err, nicplug.ErrBadInput) {
				t.Errorf("PlanUpdate error %v is not ErrBadInput", err)
			}
			if err := r.vm.UpdateDevice(ctx, []byte(tt.xml)); err == nil {
				t.Fatal("UpdateDevice succeeded")
			}
			r.requireSame(ctx, tt.name, before)
		})
	}
	// A macvtap on a parent that does not exist plans fine and fails at
	// the host step, reaching os.ErrNotExist; the user backend stays.
	err := r.vm.UpdateDevice(ctx, []byte(iface(macA, "direct", "<source dev='nosuch0' mode='bridge'/>")))
	var se *nicplug.StepError
	if !errors.As(err, &se) || se.Step != 1 || !errors.Is(err, os.ErrNotExist) || se.UndoErr != nil {
		t.Errorf("macvtap on a missing parent: %v", err)
	}
	if errors.Is(err, nicplug.ErrBadInput) || errors.Is(err, nicplug.ErrInconsistent) {
		t.Errorf("a rolled back runtime failure is bad input or inconsistent: %v", err)
	}
	r.requireSame(ctx, "missing parent", before)
	// An ethernet backend on a missing tap fails at the open.
	err = r.vm.UpdateDevice(ctx, []byte(iface(macA, "ethernet", "<target dev='nosuch1' managed='no'/>")))
	if !errors.As(err, &se) || se.Step != 1 || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ethernet on a missing tap: %v", err)
	}
	r.requireSame(ctx, "missing tap", before)
	if got := countFDs(t); got != fds {
		t.Errorf("process has %d fds, had %d", got, fds)
	}
	verify(t, ctx, r)
}

// TestIntegrationAttachErrors: Attach fails cleanly on bad XML, a missing
// socket, and a QEMU that was not started with the domain's arguments.
func TestIntegrationAttachErrors(t *testing.T) {
	testenv.RequireQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fds := countFDs(t)
	if _, err := nicplug.Attach(ctx, "/nonexistent/qmp.sock", domainXML("x", xNone), nil); err == nil ||
		!strings.HasPrefix(err.Error(), "nicplug: attach: ") || errors.Is(err, nicplug.ErrBadInput) {
		t.Errorf("Attach to a missing socket = %v, want a runtime error", err)
	}
	// Bad domains are bad input, found before the socket is dialled.
	for _, xml := range []string{"<domain", `<domain type='kvm'><devices/></domain>`} {
		if _, err := nicplug.Attach(ctx, "/nonexistent/qmp.sock", []byte(xml), nil); !errors.Is(err, nicplug.ErrBadInput) ||
			!strings.HasPrefix(err.Error(), "nicplug: attach: ") {
			t.Errorf("Attach(%s) = %v, want ErrBadInput", xml, err)
		}
	}
	// A QEMU with no nicplug NICs: Start fails naming the NIC.
	if got := countFDs(t); got != fds {
		t.Errorf("failed Attach calls left fds: %d, had %d", got, fds)
	}
	q := testenv.StartQEMU(t)
	fds = countFDs(t)
	vm, err := nicplug.Attach(ctx, q.Socket, domainXML("x", xUser), &nicplug.Config{Host: emptyHost{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Start(ctx); err == nil || !strings.Contains(err.Error(), "NIC net0 not found in QEMU") {
		t.Errorf("Start on a QEMU without the NIC = %v", err)
	}
	if err := vm.Close(); err != nil {
		t.Error(err)
	}
	if _, err := vm.Interfaces(ctx); !errors.Is(err, nicplug.ErrClosed) {
		t.Errorf("Interfaces after Close = %v, want ErrClosed", err)
	}
	if got := countFDs(t); got != fds {
		t.Errorf("process has %d fds, had %d", got, fds)
	}
}
