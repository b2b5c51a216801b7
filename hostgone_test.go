package nicplug_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// TestIntegrationKnownHostLinkDeleted: a VM reused across plans sees a
// host link deleted behind nicplug's back, as a fresh VM does. After a
// `direct` plug, `ip link del` of the macvtap, then of its parent, makes
// the next update of the same VM to the same backend a plan reporting the
// macvtap missing (Plan.Missing) that replaces the backend — the plan a
// fresh VM makes — not a noop; applied, it repairs the NIC, and the next
// plan is a noop again. A user backend owns no host link: no dump.
func TestIntegrationKnownHostLinkDeleted(t *testing.T) {
	ns := newTestNetnsNamed(t, "nphs-")
	ctx := ctxT(t)
	const name = "hlgone"
	other := filepath.Join(t.TempDir(), "other.sock")
	q, dom := startDomainNS(t, ns, domainXML(name, xNone), "-name", "guest="+name, "-qmp", "unix:"+other+",server=on,wait=off")
	mon, err := qmp.Dial(ctx, q.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	host := &countHost{Host: backend.NewNetifHost(ns.path)}
	vm, err := nicplug.NewVMForTest(mon, mon, dom, &nicplug.Config{Host: host, CarrierHold: nicplug.NoCarrierHold})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	if err := vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	owned := func() []string {
		t.Helper()
		links, err := backend.NewNetifHost(ns.path).ListOwned(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, l := range links {
			names = append(names, l.Name)
		}
		return names
	}
	// fresh is the plan a VM attached anew makes for the update.
	fresh := func(ifaceXML string) *nicplug.Plan {
		t.Helper()
		d, err := domain.ParseDomain(domainXML(name, xDirect), nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err := qmp.Dial(ctx, other, nil)
		if err != nil {
			t.Fatal(err)
		}
		fv, err := nicplug.NewVMForTest(m, m, d, &nicplug.Config{Host: backend.NewNetifHost(ns.path), CarrierHold: nicplug.NoCarrierHold})
		if err != nil {
			t.Fatal(err)
		}
		defer fv.Close()
		p, err := fv.PlanUpdate(ctx, []byte(ifaceXML))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	planSame := func(what string, wantMissing []string) *nicplug.Plan {
		t.Helper()
		p, err := vm.PlanUpdate(ctx, []byte(xDirect))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		f := fresh(xDirect)
		if p.Kind != f.Kind || len(p.Steps) != len(f.Steps) || !slices.Equal(p.Missing, f.Missing) {
			t.Errorf("%s: the reused VM plans %s (%d steps, missing %v), a fresh VM %s (%d steps, missing %v):\n%s\nfresh:\n%s",
				what, p.Kind, len(p.Steps), p.Missing, f.Kind, len(f.Steps), f.Missing, p, f)
		}
		if p.Kind != nicplug.KindSwitch || !slices.Equal(p.Missing, wantMissing) {
			t.Errorf("%s: plan %s, missing %v; want a switch, missing %v:\n%s", what, p.Kind, p.Missing, wantMissing, p)
		}
		return p
	}
	noop := func(what string) {
		t.Helper()
		p, err := vm.PlanUpdate(ctx, []byte(xDirect))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if p.Kind != nicplug.KindNoop {
			t.Errorf("%s: plan %s, want a noop:\n%s", what, p.Kind, p)
		}
		if err := vm.Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
	}

	// A user backend owns no host link: planning from what the VM knows
	// dumps nothing.
	if err := vm.UpdateDevice(ctx, []byte(xUser)); err != nil {
		t.Fatal(err)
	}
	host.dumps.Store(0)
	for _, x := range []string{xNone, xUser, xNone} {
		if err := vm.UpdateDevice(ctx, []byte(x)); err != nil {
			t.Fatal(err)
		}
	}
	if n := host.dumps.Load(); n != 0 {
		t.Errorf("plug and unplug of a user backend listed the host's links %d times, want none", n)
	}

	if err := vm.UpdateDevice(ctx, []byte(xDirect)); err != nil {
		t.Fatal(err)
	}
	links := owned()
	if len(links) != 1 {
		t.Fatalf("after the direct plug: owned links %v, want one macvtap", links)
	}
	noop("direct again")

	// The macvtap deleted behind nicplug's back.
	run(t, "ip", "-n", ns.name, "link", "del", links[0])
	p := planSame("after ip link del of the macvtap", links)
	if err := vm.Apply(ctx, p); err != nil {
		t.Fatalf("repair: %v", err)
	}
	if got := owned(); len(got) != 1 || got[0] == links[0] {
		t.Errorf("after the repair: owned links %v, want one new macvtap", got)
	}
	noop("after the repair")

	// Its parent deleted (the macvtap goes with it), then made again.
	links = owned()
	run(t, "ip", "-n", ns.name, "link", "del", "veth0")
	p = planSame("after ip link del of the parent", links)
	run(t, "ip", "-n", ns.name, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	run(t, "ip", "-n", ns.name, "link", "set", "veth0", "up")
	if err := vm.Apply(ctx, p); err != nil {
		t.Fatalf("repair after the parent came back: %v", err)
	}
	if got := owned(); len(got) != 1 || got[0] == links[0] {
		t.Errorf("after the repair: owned links %v, want one new macvtap", got)
	}
	noop("after the second repair")

	if err := vm.UpdateDevice(ctx, []byte(xNone)); err != nil {
		t.Fatal(err)
	}
	if got := owned(); len(got) != 0 {
		t.Errorf("after the unplug: owned links %v left", got)
	}
}

// countHost counts the host's owned-link dumps.
type countHost struct {
	backend.Host
	dumps atomic.Int32
}

func (h *countHost) ListOwned(ctx context.Context, vm string) ([]backend.OwnedLink, error) {
	h.dumps.Add(1)
	return h.Host.ListOwned(ctx, vm)
}
