package nicplug_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

var (
	bridged1   = domain.Backend{Type: domain.TypeBridge, Bridge: "br1"}
	bridgedV10 = domain.Backend{Type: domain.TypeBridge, Bridge: "br0", VLAN: 10}
	directVEPA = domain.Backend{Type: domain.TypeDirect, Dev: "veth0", Mode: "vepa"}
	direct2    = domain.Backend{Type: domain.TypeDirect, Dev: "veth2", Mode: "bridge"}
	tapBacks   = []domain.Backend{none, bridged, bridged1, bridgedV10, direct, directVEPA, direct2, ethernet}
)

func tapWiring(b domain.Backend, up bool) nicplug.Wiring {
	w := wiring(b, up)
	w.Datapath = domain.DatapathTap
	return w
}

// ops is a plan's steps as "phase op" (host) or "phase command" (QMP).
func ops(p *nicplug.Plan) string {
	var out []string
	for _, s := range p.Steps {
		what := string(s.Do.Op)
		if s.Do.Type != nicplug.ActionHost {
			what = s.Do.Command + string(s.Do.Type)
			if s.Do.Type == nicplug.ActionQMP {
				what = s.Do.Command
			}
		}
		out = append(out, s.Phase+" "+what)
	}
	return strings.Join(out, ", ")
}

// TestPlanTapMatrix plans every move between the tap datapath's backends
// from the state nicplug leaves (AsLive): a move never touches a QEMU
// netdev (only set_link, query-rx-filter, waits), the same wiring again
// is a no-op, and the plan kinds are the hub's.
func TestPlanTapMatrix(t *testing.T) {
	p := nicplug.Planner{VM: "vm1"}
	for _, from := range tapBacks {
		for _, to := range tapBacks {
			cur, want := tapWiring(from, !from.IsNone()), tapWiring(to, !to.IsNone())
			plan, err := p.Update(nicplug.AsLive("vm1", cur), cur, want)
			if err != nil {
				t.Errorf("%v -> %v: %v", from, to, err)
				continue
			}
			wantKind := nicplug.KindSwitch
			switch {
			case from == to:
				wantKind = nicplug.KindNoop
			case from.IsNone():
				wantKind = nicplug.KindPlug
			case to.IsNone():
				wantKind = nicplug.KindUnplug
			}
			if plan.Kind != wantKind {
				t.Errorf("%v -> %v: plan %s, want %s:\n%s", from, to, plan.Kind, wantKind, plan)
			}
			for _, s := range plan.Steps {
				for _, a := range append([]nicplug.Action{s.Do}, s.Undo...) {
					if a.Type == nicplug.ActionQMP && a.Command != "set_link" && a.Command != "query-rx-filter" {
						t.Errorf("%v -> %v: step %d runs QMP %s: the tap datapath changes no netdev", from, to, s.Num, a.Command)
					}
				}
			}
		}
	}
}

// TestPlanTapSteps pins the steps of each kind of tap-datapath move.
func TestPlanTapSteps(t *testing.T) {
	p := nicplug.Planner{VM: "vm1", CarrierHold: nicplug.NoCarrierHold}
	for _, tc := range []struct {
		from, to domain.Backend
		want     string
	}{
		{none, bridged, "prepare check-bridge, attach set-master, up set_link"},
		{bridged, bridged1, "prepare check-bridge, down set_link, detach set-master, attach set-master, up set_link"},
		{bridged, bridgedV10, "prepare check-bridge, down set_link, attach set-vlan, up set_link"},
		{bridged, direct, "prepare create-macvlan, down set_link, detach set-master, attach add-redirect, attach add-redirect, up set_link"},
		{direct, bridged1, "prepare check-bridge, down set_link, detach del-redirect, detach del-redirect, attach set-master, up set_link, finish delete-link"},
		// The same MAC on the same parent: break before make.
		{direct, directVEPA, "down set_link, detach del-redirect, detach del-redirect, finish delete-link, prepare create-macvlan, attach add-redirect, attach add-redirect, up set_link"},
		{direct, direct2, "prepare create-macvlan, down set_link, detach del-redirect, detach del-redirect, attach add-redirect, attach add-redirect, up set_link, finish delete-link"},
		{ethernet, none, "down set_link, detach del-redirect, detach del-redirect"},
		// The interface is checked before the link goes down.
		{bridged, ethernet, "prepare check-target, down set_link, detach set-master, attach add-redirect, attach add-redirect, up set_link"},
		{none, ethernet, "prepare check-target, attach add-redirect, attach add-redirect, up set_link"},
	} {
		cur, want := tapWiring(tc.from, !tc.from.IsNone()), tapWiring(tc.to, !tc.to.IsNone())
		plan, err := p.Update(nicplug.AsLive("vm1", cur), cur, want)
		if err != nil {
			t.Fatalf("%v -> %v: %v", tc.from, tc.to, err)
		}
		if got := ops(plan); got != tc.want {
			t.Errorf("%v -> %v:\n got %s\nwant %s\n%s", tc.from, tc.to, got, tc.want, plan)
		}
	}
}

// TestPlanTapConverge: plumbing an interrupted plan left half done is
// detached whatever it is, leftovers are deleted, and the link is set
// explicitly (its state is not known).
func TestPlanTapConverge(t *testing.T) {
	p := nicplug.Planner{VM: "vm1", CarrierHold: nicplug.NoCarrierHold}
	cur, want := tapWiring(bridged, true), tapWiring(direct, true)
	tap := backend.TapName("vm1", "net0")
	mv1, mv2 := backend.LinkName("vm1", "net0", 1), backend.LinkName("vm1", "net0", 2)
	for _, tc := range []struct {
		name  string
		plug  backend.TapPlug
		links []string
		want  string
	}{
		{"master and redirect", backend.TapPlug{Master: "br0", Redirect: mv1, Back: true}, []string{mv1},
			"prepare create-macvlan, down set_link, detach set-master, detach del-redirect, detach del-redirect, attach add-redirect, attach add-redirect, up set_link, finish delete-link"},
		{"redirect one way", backend.TapPlug{Redirect: mv1}, []string{mv1},
			"prepare create-macvlan, down set_link, detach del-redirect, attach add-redirect, attach add-redirect, up set_link, finish delete-link"},
		{"stray macvlan", backend.TapPlug{Master: "br0"}, []string{mv1, mv2},
			"cleanup delete-link, cleanup delete-link, prepare create-macvlan, down set_link, detach set-master, attach add-redirect, attach add-redirect, up set_link"},
	} {
		live := nicplug.AsLive("vm1", cur)
		live.Tap.Plug = tc.plug
		for _, l := range tc.links {
			live.Tap.Macvlans[l] = backend.OwnedLink{Name: l, Kind: "macvlan", Parent: "veth9", Mode: "bridge"}
		}
		live.HostLinks = append([]string{tap}, tc.links...)
		plan, err := p.Update(live, cur, want)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := ops(plan); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s\n%s", tc.name, got, tc.want, plan)
		}
		if last := plan.Steps[len(plan.Steps)-1]; tc.name != "stray macvlan" && last.Do.Link != mv1 {
			t.Errorf("%s: the macvlan in use is not deleted last:\n%s", tc.name, plan)
		}
	}
}

// TestPlanTapRefused: what the tap datapath cannot carry, or a NIC on the
// other datapath, is refused before anything runs.
func TestPlanTapRefused(t *testing.T) {
	p := nicplug.Planner{VM: "vm1"}
	cur := tapWiring(bridged, true)
	live := nicplug.AsLive("vm1", cur)
	if _, err := p.Update(live, cur, tapWiring(user, true)); !errors.Is(err, nicplug.ErrBadInput) || !strings.Contains(err.Error(), "lives inside QEMU") {
		t.Errorf("user on the tap datapath: %v", err)
	}
	if _, err := p.Update(live, cur, wiring(user, true)); err == nil || !strings.Contains(err.Error(), "cannot change live") {
		t.Errorf("hub wiring for a tap NIC: %v", err)
	}
	missing := live
	missing.Tap = live.Tap
	missing.Tap.Missing = true
	if _, err := p.Update(missing, cur, tapWiring(none, false)); err == nil || !strings.Contains(err.Error(), "is not on the host") {
		t.Errorf("missing tap: %v", err)
	}
}

// TestPlanTapDefaultVLAN: the host reads a port on its bridge's default
// VLAN alone back as VLAN 0 (netif.ReadTapPlug), so an explicit tag equal
// to the live bridge's default PVID is already the wiring, and the same
// tag on a bridge with another default (or none) is a set-vlan.
func TestPlanTapDefaultVLAN(t *testing.T) {
	p := nicplug.Planner{VM: "vm1"}
	cur := tapWiring(bridged, true)
	want := tapWiring(domain.Backend{Type: domain.TypeBridge, Bridge: "br0", VLAN: 1}, true)
	for _, tc := range []struct {
		defaultPVID int
		want        string
	}{
		{1, ""},
		{7, "prepare check-bridge, arm query-rx-filter, down set_link, attach set-vlan, hold wait, up set_link"},
		{0, "prepare check-bridge, arm query-rx-filter, down set_link, attach set-vlan, hold wait, up set_link"},
	} {
		live := nicplug.AsLive("vm1", cur)
		live.Tap.Plug.DefaultPVID = tc.defaultPVID
		plan, err := p.Update(live, cur, want)
		if err != nil {
			t.Fatal(err)
		}
		if got := ops(plan); got != tc.want {
			t.Errorf("tag 1 on a bridge with default PVID %d: %q, want %q", tc.defaultPVID, got, tc.want)
		}
	}
}
