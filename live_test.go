package nicplug_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// liveXML is a q35 domain with a NIC of each host-side kind, device
// properties set, and a link down.
func liveXML(name string) []byte {
	return []byte(fmt.Sprintf(`<domain type='qemu'><name>%s</name>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
<interface type='user'><mac address='52:54:00:00:01:01'/><model type='virtio'/>
  <address type='pci' domain='0' bus='0' slot='5' function='0'/><boot order='2'/><mtu size='1400'/></interface>
<interface type='direct'><mac address='52:54:00:00:01:02'/><source dev='veth0' mode='bridge'/><model type='virtio'/></interface>
<interface type='bridge'><mac address='52:54:00:00:01:03'/><source bridge='br0'/><model type='e1000'/><rom bar='off'/></interface>
<interface type='ethernet'><mac address='52:54:00:00:01:04'/><target dev='tap7' managed='no'/><model type='virtio'/><link state='down'/></interface>
<interface type='none'><mac address='52:54:00:00:01:05'/><model type='rtl8139'/><alias name='ua-spare'/></interface>
</devices></domain>`, name))
}

// keepOpen is the closer of VMs sharing a rig's monitor: closing them
// leaves it open.
type keepOpen struct{}

func (keepOpen) Close() error { return nil }

// attachRunning attaches a second VM to r's QEMU from its live domain.
func (r *rig) attachRunning(ctx context.Context, name string) *nicplug.VM {
	r.t.Helper()
	vm, err := nicplug.AttachRunningForTest(ctx, r.mon, keepOpen{}, name,
		&nicplug.Config{Host: r.host, CarrierHold: nicplug.NoCarrierHold})
	if err != nil {
		r.t.Fatal(err)
	}
	return vm
}

// TestIntegrationAttachRunning checks that a VM attached without its
// domain sees the domain QEMU was started from (as far as QEMU and the
// host tell it), refuses what libvirt refuses, and plans from it: a
// re-applied update sets the unknown link, then is a no-op; a move between
// two macvtaps of one parent, whose old spec only the host link tells,
// succeeds; an unknown backend (ethernet) is replaced; nothing is left.
func TestIntegrationAttachRunning(t *testing.T) {
	ns := newTestNetns(t)
	t.Parallel()
	ctx := ctxT(t)
	name := fmt.Sprintf("live%d", vmSeq.Add(1))
	r := newRigXML(t, ns, &nicplug.Config{CarrierHold: nicplug.NoCarrierHold}, name, liveXML(name))
	if err := r.vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	orig := r.vm.Domain()

	live, err := nicplug.LiveDomain(ctx, r.mon, r.host, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(live.NICs) != len(orig.NICs) {
		t.Fatalf("live domain has %d NICs, want %d", len(live.NICs), len(orig.NICs))
	}
	wantBackend := []domain.Backend{orig.NICs[0].Backend(), orig.NICs[1].Backend(), orig.NICs[2].Backend(),
		{Type: domain.TypeNone} /* ethernet: not recoverable */, {Type: domain.TypeNone}}
	for i, o := range orig.NICs {
		n := live.NICs[i]
		if n.DeviceID() != o.DeviceID() || n.MAC() != o.MAC() || n.Backend() != wantBackend[i] {
			t.Errorf("live NIC %d: %s %s %s, want %s %s %s", i, n.DeviceID(), n.MAC(), n.Backend(), o.DeviceID(), o.MAC(), wantBackend[i])
		}
		if _, err := domain.Diff(n, o); err != nil {
			t.Errorf("live NIC %s: the original as an update: %v", o.DeviceID(), err)
		}
	}

	vm := r.attachRunning(ctx, name)
	ifs, err := vm.Interfaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range ifs {
		if !it.LinkUnknown {
			t.Errorf("%s: link known right after AttachRunning", it.Device)
		}
		if i < 3 && it.Backend != wantBackend[i] {
			t.Errorf("%s: backend %v, want %v", it.Device, it.Backend, wantBackend[i])
		}
	}
	if it := ifs[3]; it.BackendID == "" || it.Driver != "tap" || it.Backend != (domain.Backend{}) {
		t.Errorf("ethernet NIC: %+v, want an attached tap of unknown spec", it)
	}

	// Refused as libvirt refuses them, with ErrBadInput.
	for _, tc := range []struct{ xml, want string }{
		{`<interface type='user'><mac address='52:54:00:00:01:01'/><model type='e1000'/></interface>`,
			"cannot modify network device model from virtio to e1000"},
		{`<interface type='user'><mac address='52:54:00:00:01:01'/><model type='virtio'/><address type='pci' domain='0' bus='0' slot='6' function='0'/></interface>`,
			"cannot modify network device guest PCI address (from 0000:00:05.0 to 0000:00:06.0)"},
		{`<interface type='user'><mac address='52:54:00:00:01:01'/><model type='virtio'/><boot order='2'/></interface>`,
			"cannot modify MTU (from 1400 to (default))"},
		{`<interface type='user'><mac address='52:54:00:00:01:03'/><model type='e1000'/></interface>`,
			"cannot modify network device rom bar setting (from off to on)"},
	} {
		if _, err := vm.PlanUpdate(ctx, []byte(tc.xml)); !errors.Is(err, nicplug.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("update %s: got %v, want ErrBadInput %q", tc.xml, err, tc.want)
		}
	}

	// The same backend again: the link is unknown, so it is set; then the
	// update is a no-op.
	same := `<interface type='user'><mac address='52:54:00:00:01:01'/><model type='virtio'/>` +
		`<address type='pci' domain='0' bus='0' slot='5' function='0'/><boot order='2'/><mtu size='1400'/></interface>`
	p, err := vm.PlanUpdate(ctx, []byte(same))
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != nicplug.KindLink || len(p.Steps) != 1 || p.Steps[0].Do.Command != "set_link" {
		t.Fatalf("same update with the link unknown:\n%s", p)
	}
	if err := vm.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	if p, err = vm.PlanUpdate(ctx, []byte(same)); err != nil || p.Kind != nicplug.KindNoop {
		t.Fatalf("same update once the link is set: %v\n%s", err, p)
	}
	vm.Close()

	// Each of these from a fresh attach, as separate CLI runs would do.
	moves := []struct{ dev, xml string }{
		// macvtap → macvtap on the same parent: the old one must go first
		// (same MAC), which only the recovered spec tells.
		{"net1", `<interface type='direct'><mac address='52:54:00:00:01:02'/><source dev='veth0' mode='vepa'/><model type='virtio'/></interface>`},
		// An unknown backend (the existing tap7) replaced by user.
		{"net3", `<interface type='user'><mac address='52:54:00:00:01:04'/><model type='virtio'/></interface>`},
		// A bridge tap unplugged: its host link goes.
		{"net2", `<interface type='none'><mac address='52:54:00:00:01:03'/><model type='e1000'/><rom bar='off'/></interface>`},
		// The spare NIC matched by alias and plugged.
		{"ua-spare", `<interface type='bridge'><alias name='ua-spare'/><source bridge='br0'/><model type='rtl8139'/></interface>`},
	}
	for _, m := range moves {
		vm := r.attachRunning(ctx, "")
		if vm.Name() != name {
			t.Fatalf("AttachRunning without a name: VM %q, want %q from QEMU's -name", vm.Name(), name)
		}
		p, err := vm.PlanUpdate(ctx, []byte(m.xml))
		if err != nil {
			t.Fatal(err)
		}
		if err := vm.Apply(ctx, p); err != nil {
			t.Fatalf("%s: %v\n%s", m.dev, err, p)
		}
		upd, err := domain.ParseInterface([]byte(m.xml), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.attachedBackend(ctx, m.dev); upd.Backend().IsNone() != (got == "") {
			t.Errorf("%s: attached %q after %s", m.dev, got, m.xml)
		} else if got != "" {
			if id, _ := backend.ParseNetdevID(got); id.Hash != backend.SpecHash(upd.Backend()) {
				t.Errorf("%s: attached %s, want spec %s", m.dev, got, upd.Backend())
			}
		}
		vm.Close()
	}
	links, err := r.host.ListOwned(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range links {
		got = append(got, l.Owner.NIC+":"+l.Kind)
	}
	if want := "net1:macvtap ua-spare:tap"; strings.Join(got, " ") != want && strings.Join(got, " ") != "ua-spare:tap net1:macvtap" {
		t.Errorf("owned host links %v, want %s", got, want)
	}
	if out, err := exec.Command("ip", "-n", ns.name, "link", "show", "tap7").CombinedOutput(); err != nil {
		t.Errorf("tap7, not nicplug's, is gone: %v %s", err, out)
	}
	final, err := nicplug.LiveDomain(ctx, r.mon, r.host, name)
	if err != nil {
		t.Fatal(err)
	}
	var backends []string
	for _, n := range final.NICs {
		backends = append(backends, n.Backend().String())
	}
	t.Logf("live backends after the moves: %v", backends)
	if final.NICs[1].Backend().Mode != "vepa" || final.NICs[3].Backend().Type != domain.TypeUser || !final.NICs[2].Backend().IsNone() {
		t.Errorf("live backends after the moves: %v", backends)
	}
}

// TestIntegrationAttachRunningName checks where AttachRunning takes the
// VM's name from: the caller, else QEMU's -name, else an error.
func TestIntegrationAttachRunningName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ qemuName, given, want string }{
		{"", "", ""},
		{"", "vm-given", "vm-given"},
		{"vm-qemu", "", "vm-qemu"},
		{"vm-qemu", "vm-given", "vm-given"},
	} {
		var extra []string
		if tc.qemuName != "" {
			extra = []string{"-name", "guest=" + tc.qemuName}
		}
		q, _ := startDomain(t, domainXML("x", xUser), extra...)
		ctx := ctxT(t)
		mon, err := qmp.Dial(ctx, q.Socket, nil)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := nicplug.AttachRunningForTest(ctx, mon, mon, tc.given, &nicplug.Config{Host: emptyHost{}})
		switch {
		case tc.want == "":
			if !errors.Is(err, nicplug.ErrBadInput) || !strings.Contains(err.Error(), "-name") {
				t.Errorf("no name anywhere: got %v, want ErrBadInput naming -name", err)
			}
			mon.Close()
		case err != nil:
			t.Errorf("qemu -name %q, given %q: %v", tc.qemuName, tc.given, err)
			mon.Close()
		default:
			if vm.Name() != tc.want {
				t.Errorf("qemu -name %q, given %q: VM %q, want %q", tc.qemuName, tc.given, vm.Name(), tc.want)
			}
			if b := vm.Domain().NICs[0].Backend(); b.Type != domain.TypeNone {
				t.Errorf("before start the NIC has backend %s, want none", b)
			}
			vm.Close()
		}
		q.Kill()
	}
}
