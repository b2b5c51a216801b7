package nicplug_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
)

// scenario is one plan kind on a VM in a given state.
type scenario struct {
	name   string
	root   bool // needs the test netns (macvtap, taps)
	cfg    nicplug.Config
	boot   []string // the domain's interfaces
	prep   []string // updates applied after Start
	update string   // the update under test; "" tests the start plan
	kind   nicplug.PlanKind
	steps  int
}

// scenarios are the integration scenarios. They switch with no carrier
// hold (the default hold's wait step is checked by the planner's golden
// tests) to keep the tests fast.
func scenarios() []scenario {
	scs := []scenario{
		{name: "start-user", boot: []string{xUser, xNoneB}, kind: nicplug.KindStart, steps: 4},
		{name: "plug-user", boot: []string{xNone}, update: xUser, kind: nicplug.KindPlug, steps: 3},
		{name: "unplug-user", boot: []string{xUser}, update: xNone, kind: nicplug.KindUnplug, steps: 3},
		{name: "switch-user-udp", boot: []string{xUser}, update: xUDP, cfg: nicplug.Config{Announce: true}, kind: nicplug.KindSwitch, steps: 7},
		{name: "link-down", boot: []string{xUser}, update: xUserDown, kind: nicplug.KindLink, steps: 1},
		{name: "link-up", boot: []string{xNone}, prep: []string{xUserDown}, update: xUser, kind: nicplug.KindLink, steps: 1},
		{name: "start-direct-ethernet", root: true, boot: []string{xDirect, xEthB}, kind: nicplug.KindStart, steps: 10},
		{name: "plug-direct", root: true, boot: []string{xNone}, update: xDirect, kind: nicplug.KindPlug, steps: 6},
		{name: "switch-direct-bridge", root: true, boot: []string{xDirect}, update: xBridge, kind: nicplug.KindSwitch, steps: 10},
		{name: "switch-direct-same-parent", root: true, boot: []string{xDirect}, update: xDirectVEPA, kind: nicplug.KindSwitch, steps: 10},
		{name: "switch-user-ethernet", root: true, boot: []string{xUser}, update: xEthernet, kind: nicplug.KindSwitch, steps: 8},
		{name: "unplug-bridge", root: true, boot: []string{xNone}, prep: []string{xBridge}, update: xNone, kind: nicplug.KindUnplug, steps: 4},

		{name: "start-tap-bridge", root: true, boot: []string{tBridge}, kind: nicplug.KindStart, steps: 3},
		{name: "plug-tap-direct", root: true, boot: []string{tNone}, update: tDirect, kind: nicplug.KindPlug, steps: 4},
		{name: "switch-tap-bridge-direct", root: true, boot: []string{tBridge}, update: tDirect, kind: nicplug.KindSwitch, steps: 6},
		{name: "switch-tap-direct-bridge", root: true, boot: []string{tDirect}, update: tBridge1, kind: nicplug.KindSwitch, steps: 7},
		{name: "switch-tap-direct-same-parent", root: true, boot: []string{tDirect}, update: tDirectVEPA, kind: nicplug.KindSwitch, steps: 8},
		{name: "switch-tap-direct-other-parent", root: true, boot: []string{tDirect}, update: tDirect2, kind: nicplug.KindSwitch, steps: 8},
		{name: "switch-tap-bridge-bridge", root: true, boot: []string{tBridge}, update: tBridge1, kind: nicplug.KindSwitch, steps: 5},
		{name: "switch-tap-bridge-ethernet", root: true, boot: []string{tBridge}, update: tEthernet, kind: nicplug.KindSwitch, steps: 6},
		{name: "unplug-tap-direct", root: true, boot: []string{tDirect}, update: tNone, kind: nicplug.KindUnplug, steps: 4},
		{name: "unplug-tap-ethernet", root: true, boot: []string{tNone}, prep: []string{tEthernet}, update: tNone, kind: nicplug.KindUnplug, steps: 3},
		{name: "start-tap-direct", root: true, boot: []string{tDirect}, kind: nicplug.KindStart, steps: 4},
		{name: "start-tap-ethernet", root: true, boot: []string{tEthernet}, kind: nicplug.KindStart, steps: 4},
		{name: "plug-tap-bridge", root: true, boot: []string{tNone}, update: tBridge, kind: nicplug.KindPlug, steps: 3},
		{name: "plug-tap-ethernet", root: true, boot: []string{tNone}, update: tEthernet, kind: nicplug.KindPlug, steps: 4},
		{name: "switch-tap-ethernet-bridge", root: true, boot: []string{tEthernet}, update: tBridge, kind: nicplug.KindSwitch, steps: 6},
		{name: "switch-tap-ethernet-direct", root: true, boot: []string{tEthernet}, update: tDirect, kind: nicplug.KindSwitch, steps: 7},
		{name: "switch-tap-direct-ethernet", root: true, boot: []string{tDirect}, update: tEthernet, kind: nicplug.KindSwitch, steps: 8},
		{name: "unplug-tap-bridge", root: true, boot: []string{tBridge}, update: tNone, kind: nicplug.KindUnplug, steps: 2},
		{name: "link-down-tap", root: true, boot: []string{tBridge}, update: tBridgeDown, kind: nicplug.KindLink, steps: 1},
	}
	for i := range scs {
		if scs[i].cfg.CarrierHold == 0 {
			scs[i].cfg.CarrierHold = nicplug.NoCarrierHold
		}
	}
	return scs
}

var vmSeq atomic.Int64

// netns returns a fresh test netns for a root scenario, nil otherwise.
func (sc scenario) netns(t testing.TB) *testNetns {
	t.Helper()
	if !sc.root {
		testenv.RequireQEMU(t)
		return nil
	}
	return newTestNetns(t)
}

// setup boots the scenario's VM (host devices in ns) and applies its
// prep updates.
func (sc scenario) setup(t testing.TB, ctx context.Context, ns *testNetns) *rig {
	t.Helper()
	cfg := sc.cfg
	r := newRig(t, ns, &cfg, fmt.Sprintf("vm%d", vmSeq.Add(1)), sc.boot...)
	if sc.update != "" {
		if err := r.vm.Start(ctx); err != nil {
			r.q.Kill() // before reading its stderr
			t.Fatalf("start: %v\nqemu stderr: %s", err, r.q.Stderr)
		}
	}
	for _, u := range sc.prep {
		if err := r.vm.UpdateDevice(ctx, []byte(u)); err != nil {
			t.Fatalf("setup update: %v", err)
		}
	}
	return r
}

func (sc scenario) plan(t testing.TB, ctx context.Context, r *rig) *nicplug.Plan {
	t.Helper()
	var p *nicplug.Plan
	var err error
	if sc.update == "" {
		p, err = r.vm.PlanStart(ctx)
	} else {
		p, err = r.vm.PlanUpdate(ctx, []byte(sc.update))
	}
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if p.Kind != sc.kind || len(p.Steps) != sc.steps {
		t.Fatalf("plan is %s with %d steps, want %s with %d:\n%s", p.Kind, len(p.Steps), sc.kind, sc.steps, p)
	}
	return p
}

func (sc scenario) skipUnlessPossible(t *testing.T) {
	if sc.root && os.Geteuid() != 0 {
		testenv.RequireRoot(t)
	}
}

// verify checks every NIC's live wiring against the VM's configuration:
// through info network and qom-get the hub holds exactly the configured
// backend (by spec hash) or none; the host holds exactly the links it
// needs; Interfaces agrees.
func verify(t testing.TB, ctx context.Context, r *rig) {
	t.Helper()
	dom := r.vm.Domain()
	ifs, err := r.vm.Interfaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wantLinks int
	for i, n := range dom.NICs {
		dev, b := n.DeviceID(), n.Backend()
		if n.Datapath() == domain.DatapathTap {
			wantLinks += verifyTap(t, ctx, r, n, ifs[i])
			continue
		}
		got := r.attachedBackend(ctx, dev)
		if b.IsNone() {
			if got != "" {
				t.Errorf("%s: backend %s attached, want none", dev, got)
			}
			continue
		}
		id, err := backend.ParseNetdevID(got)
		if err != nil || id.Hash != backend.SpecHash(b) {
			t.Errorf("%s: backend %q attached, want one of spec %v (hash %s)", dev, got, b, backend.SpecHash(b))
		}
		if ifs[i].BackendID != got || ifs[i].Backend != b || ifs[i].LinkUp != n.LinkUp() {
			t.Errorf("Interfaces()[%d] = %+v, want backend %s (%v), link %v", i, ifs[i], got, b, n.LinkUp())
		}
		if need, _ := backend.Needs(b); need.Creates() {
			wantLinks++
		}
	}
	// No standalone nicplug backends or stray ports are left anywhere.
	ni := r.infoNetwork(ctx)
	for _, c := range ni.Clients {
		if strings.HasPrefix(c.Name, backend.Prefix) {
			t.Errorf("standalone netdev %s left in QEMU", c.Name)
		}
	}
	for _, h := range ni.Hubs {
		for _, p := range h.Ports {
			if p.Peer == nil {
				t.Errorf("unconnected hub port %s left on hub %d", p.Name, h.ID)
			}
		}
	}
	if r.host != nil {
		links, err := r.host.ListOwned(ctx, r.name)
		if err != nil {
			t.Fatal(err)
		}
		if len(links) != wantLinks {
			t.Errorf("host has %d owned links %v, want %d", len(links), links, wantLinks)
		}
	}
}
