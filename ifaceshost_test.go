package nicplug_test

import (
	"path/filepath"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// TestIntegrationInterfacesHostLink: Interfaces names a backend that owns
// a host link (a macvtap) by its configuration only where the VM looks
// (Config.Netns) lists that link: a VM looking in another namespace, or in
// the initial one, and the VM itself after `ip link del` of the macvtap,
// get it unknown with the link named in MissingLink; a backend owning no
// link (user) is named as before.
func TestIntegrationInterfacesHostLink(t *testing.T) {
	ns := newTestNetnsNamed(t, "nphs-")
	elsewhere := newTestNetnsNamed(t, "nphs-")
	ctx := ctxT(t)
	const name = "hlshow"
	other := filepath.Join(t.TempDir(), "other.sock")
	q, dom := startDomainNS(t, ns, domainXML(name, xNone), "-name", "guest="+name, "-qmp", "unix:"+other+",server=on,wait=off")
	mon, err := qmp.Dial(ctx, q.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := nicplug.NewVMForTest(mon, mon, dom, &nicplug.Config{Host: backend.NewNetifHost(ns.path), CarrierHold: nicplug.NoCarrierHold})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	if err := vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := vm.UpdateDevice(ctx, []byte(xDirect)); err != nil {
		t.Fatal(err)
	}
	defer vm.UpdateDevice(ctx, []byte(xNone))
	links, err := backend.NewNetifHost(ns.path).ListOwned(ctx, name)
	if err != nil || len(links) != 1 {
		t.Fatalf("owned links %v, %v; want one macvtap", links, err)
	}
	link := links[0].Name
	want := domain.Backend{Type: domain.TypeDirect, Dev: "veth0", Mode: "bridge"}
	check := func(what string, v *nicplug.VM, wantBackend domain.Backend, wantMissing string) {
		t.Helper()
		ifs, err := v.Interfaces(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(ifs) != 1 {
			t.Fatalf("%s: %d interfaces", what, len(ifs))
		}
		it := ifs[0]
		if it.Backend != wantBackend || it.MissingLink != wantMissing || it.BackendID == "" || it.Driver != "tap" {
			t.Errorf("%s: backend %s (netdev %s, %s), missing link %q; want %s, missing link %q",
				what, spec(it.Backend), it.BackendID, it.Driver, it.MissingLink, spec(wantBackend), wantMissing)
		}
	}
	check("where the macvtap is", vm, want, "")
	for what, netns := range map[string]string{"from another namespace": elsewhere.path, "from the initial namespace": ""} {
		d, err := domain.ParseDomain(domainXML(name, xDirect), nil)
		if err != nil {
			t.Fatal(err)
		}
		m, err := qmp.Dial(ctx, other, nil)
		if err != nil {
			t.Fatal(err)
		}
		ov, err := nicplug.NewVMForTest(m, m, d, &nicplug.Config{Host: backend.NewNetifHost(netns)})
		if err != nil {
			t.Fatal(err)
		}
		check(what, ov, domain.Backend{}, link)
		ov.Close()
	}

	run(t, "ip", "-n", ns.name, "link", "del", link)
	check("after ip link del of the macvtap", vm, domain.Backend{}, link)
	if err := vm.UpdateDevice(ctx, []byte(xDirect)); err != nil {
		t.Fatalf("repair: %v", err)
	}
	check("after the repair", vm, want, "")

	if err := vm.UpdateDevice(ctx, []byte(xUser)); err != nil {
		t.Fatal(err)
	}
	ifs, err := vm.Interfaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if it := ifs[0]; it.Backend != (domain.Backend{Type: domain.TypeUser}) || it.MissingLink != "" {
		t.Errorf("user backend: %s, missing link %q", spec(it.Backend), it.MissingLink)
	}
}

// spec prints a backend spec, "unknown" when zero.
func spec(b domain.Backend) string {
	if b.Type == "" {
		return "unknown"
	}
	return b.String()
}
