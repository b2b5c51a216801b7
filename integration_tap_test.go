package nicplug_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

var (
	// The tap datapath (queues > 1): the same backends behind a fixed tap.
	tNone       = tapIface("none", "")
	tBridge     = tapIface("bridge", "<source bridge='br0'/>")
	tBridge1    = tapIface("bridge", "<source bridge='br1'/>")
	tBridgeDown = tapIface("bridge", "<source bridge='br0'/><link state='down'/>")
	tDirect     = tapIface("direct", "<source dev='veth0' mode='bridge'/>")
	tDirectVEPA = tapIface("direct", "<source dev='veth0' mode='vepa'/>")
	tDirect2    = tapIface("direct", "<source dev='veth2' mode='bridge'/>")
	tEthernet   = tapIface("ethernet", "<target dev='tap7' managed='no'/>")
)

// tapIface is an <interface> on the tap datapath: two queue pairs.
func tapIface(typ, inner string) string { return iface(macA, typ, inner+"<driver queues='2'/>") }

// verifyTap checks a tap-datapath NIC: peered with its fixed tap in QEMU,
// the tap plugged into exactly the configured backend on the host (as
// Interfaces reports it too); it returns how many owned links it needs.
func verifyTap(t testing.TB, ctx context.Context, r *rig, n *domain.NIC, it nicplug.Interface) int {
	t.Helper()
	dev, b := n.DeviceID(), n.Backend()
	raw, err := r.mon.QOMGet(ctx, "/machine/peripheral/"+dev, "netdev")
	if err != nil {
		t.Fatal(err)
	}
	if peer := strings.Trim(string(raw), `"`); peer != domain.TapNetdevIDFor(dev) {
		t.Errorf("%s: peer %q, want its fixed tap %s", dev, peer, domain.TapNetdevIDFor(dev))
	}
	tap := backend.TapName(r.name, dev)
	p, err := r.host.(backend.TapHost).TapPlug(ctx, tap)
	if err != nil {
		t.Fatalf("%s: read back tap %s: %v", dev, tap, err)
	}
	var want backend.TapPlug
	links := 1
	switch b.Type {
	case domain.TypeBridge:
		want = backend.TapPlug{Master: b.Bridge, VLAN: b.VLAN}
	case domain.TypeDirect, domain.TypeEthernet:
		want = backend.TapPlug{Redirect: p.Redirect, Back: true}
		if b.Type == domain.TypeEthernet {
			want.Redirect = b.Dev
		} else {
			links++
		}
	}
	p.VLANs, p.DefaultPVID = nil, 0 // descriptions, not wiring
	if !reflect.DeepEqual(p, want) {
		t.Errorf("%s: tap %s plugged into %+v, want %+v", dev, tap, p, want)
	}
	if it.Datapath != domain.DatapathTap || it.Tap != tap || it.Backend != b || it.LinkUp != n.LinkUp() {
		t.Errorf("Interfaces(%s) = %+v, want datapath tap, tap %s, backend %v, link %v", dev, it, tap, b, n.LinkUp())
	}
	return links
}

// TestIntegrationTapFailedMoves: moves of a tap-datapath NIC that the
// host refuses (a missing direct parent, a missing bridge, a missing
// ethernet interface, a VLAN on a bridge without VLAN filtering) fail at
// a prepare step, before the guest's link went down, with an error
// naming what is missing, and leave QEMU and the host exactly as they
// were: the NIC still on its bridge. On a kernel whose bridges can filter VLANs, the
// VLAN move is made instead, and checked.
func TestIntegrationTapFailedMoves(t *testing.T) {
	ns := newTestNetns(t)
	ctx := ctxT(t)
	sc := scenario{root: true, boot: []string{tBridge}, cfg: nicplug.Config{CarrierHold: nicplug.NoCarrierHold}}
	r := sc.setup(t, ctx, ns)
	if err := r.vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	before := r.snapshot(ctx)
	vlanOK := filterVLANs(t, ns)
	for _, tc := range []struct {
		name, update, want string
		ok                 bool
	}{
		{"missing parent", tapIface("direct", "<source dev='veth9' mode='bridge'/>"), "veth9", false},
		{"missing bridge", tapIface("bridge", "<source bridge='br9'/>"), "br9", false},
		{"missing ethernet target", tapIface("ethernet", "<target dev='tap9' managed='no'/>"), "NIC net0: ethernet target dev tap9: ", false},
		{"vlan", tapIface("bridge", "<source bridge='br0'/><vlan><tag id='10'/></vlan>"), "vlan_filtering 1", vlanOK},
	} {
		p, err := r.vm.PlanUpdate(ctx, []byte(tc.update))
		if err != nil {
			t.Fatalf("%s: plan: %v", tc.name, err)
		}
		r.in.takeSent()
		err = r.vm.Apply(ctx, p)
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			verify(t, ctx, r)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
		var se *nicplug.StepError
		if !errors.As(err, &se) || se.UndoErr != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a step error naming %s, rolled back", tc.name, err, tc.want)
		}
		if strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%s: error is not one line: %q", tc.name, err)
		}
		if se != nil && p.Steps[se.Step-1].Phase != "prepare" {
			t.Errorf("%s: failed at step %d (%s %s), want a prepare step:\n%s", tc.name, se.Step, p.Steps[se.Step-1].Phase, p.Steps[se.Step-1].Do, p)
		}
		for _, c := range r.in.takeSent() {
			if strings.HasPrefix(c, "set_link ") {
				t.Errorf("%s: sent %s: the guest's link went down", tc.name, c)
			}
		}
		r.requireSame(ctx, tc.name, before)
		verify(t, ctx, r)
	}
	if !vlanOK {
		t.Log("NOT TESTED HERE: a VLAN move (the kernel's bridge cannot filter VLANs); its clear refusal was checked instead (internal/kernelvm runs this test in a guest with Debian's kernel)")
	}
}
