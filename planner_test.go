package nicplug_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var (
	none     = domain.Backend{Type: domain.TypeNone}
	user     = domain.Backend{Type: domain.TypeUser}
	direct   = domain.Backend{Type: domain.TypeDirect, Dev: "veth0", Mode: "bridge"}
	bridged  = domain.Backend{Type: domain.TypeBridge, Bridge: "br0"}
	ethernet = domain.Backend{Type: domain.TypeEthernet, Dev: "tap7"}
	udp      = domain.Backend{Type: domain.TypeUDP, Address: "127.0.0.1", Port: 5000, LocalAddress: "127.0.0.1", LocalPort: 5001}
)

const mac0 = "52:54:00:00:00:01"

func wiring(b domain.Backend, up bool) nicplug.Wiring {
	return nicplug.Wiring{Device: "net0", Hub: 0, MAC: mac0, Backend: b, LinkUp: up}
}

// attached is the live state of net0 with backend b of generation gen
// attached (b none: nothing attached).
func attached(vm string, b domain.Backend, gen int) nicplug.NICState {
	ns := nicplug.NICState{Device: "net0", MAC: mac0, Peer: "np.net0.nic", Hub: 0, Datapath: domain.DatapathHub}
	if b.IsNone() {
		return ns
	}
	id := backend.BackendID("net0", gen, b)
	need, _ := backend.Needs(b)
	driver, _ := backend.Driver(b)
	ns.Backends = []nicplug.BackendState{{ID: id.String(), Driver: driver, Port: id.Port().String()}}
	if need.Creates() {
		ns.HostLinks = []string{backend.LinkName(vm, "net0", gen)}
	}
	return ns
}

type planCase struct {
	name      string
	planner   nicplug.Planner
	live      nicplug.NICState
	cur, want nicplug.Wiring
	kind      nicplug.PlanKind
	steps     int
}

func planCases() []planCase {
	p := nicplug.Planner{VM: "vm1"} // default carrier hold
	noHold := nicplug.Planner{VM: "vm1", CarrierHold: nicplug.NoCarrierHold}
	fixed := nicplug.Planner{VM: "vm1", FixedHold: true}
	held := nicplug.Planner{VM: "vm1", CarrierHold: 6 * time.Second, Announce: true}
	leftovers := attached("vm1", user, 3)
	leftovers.Backends = append(leftovers.Backends,
		nicplug.BackendState{ID: backend.BackendID("net0", 4, direct).String(), Driver: "tap"})
	leftovers.StrayPorts = []string{backend.BackendID("net0", 2, user).Port().String()}
	leftovers.HostLinks = []string{backend.LinkName("vm1", "net0", 4), "npdeadbeef00"}
	return []planCase{
		{"noop-none", p, attached("vm1", none, 0), wiring(none, false), wiring(none, false), nicplug.KindNoop, 0},
		{"noop-user", p, attached("vm1", user, 1), wiring(user, true), wiring(user, true), nicplug.KindNoop, 0},
		{"plug-user", p, attached("vm1", none, 0), wiring(none, false), wiring(user, true), nicplug.KindPlug, 3},
		{"plug-user-link-down", p, attached("vm1", none, 0), wiring(none, false), wiring(user, false), nicplug.KindPlug, 2},
		{"plug-udp-announce", held, attached("vm1", none, 0), wiring(none, false), wiring(udp, true), nicplug.KindPlug, 4},
		{"plug-direct", p, attached("vm1", none, 0), wiring(none, false), wiring(direct, true), nicplug.KindPlug, 6},
		{"plug-bridge", p, attached("vm1", none, 0), wiring(none, false), wiring(bridged, true), nicplug.KindPlug, 6},
		{"plug-ethernet", p, attached("vm1", none, 0), wiring(none, false), wiring(ethernet, true), nicplug.KindPlug, 5},
		{"unplug-user", p, attached("vm1", user, 1), wiring(user, true), wiring(none, false), nicplug.KindUnplug, 3},
		{"unplug-direct", p, attached("vm1", direct, 2), wiring(direct, true), wiring(none, false), nicplug.KindUnplug, 4},
		{"switch-user-direct", p, attached("vm1", user, 1), wiring(user, true), wiring(direct, true), nicplug.KindSwitch, 11},
		{"switch-user-direct-fixed-hold", fixed, attached("vm1", user, 1), wiring(user, true), wiring(direct, true), nicplug.KindSwitch, 10},
		{"switch-user-direct-no-hold", noHold, attached("vm1", user, 1), wiring(user, true), wiring(direct, true), nicplug.KindSwitch, 9},
		{"switch-direct-bridge-held", held, attached("vm1", direct, 1), wiring(direct, true), wiring(bridged, true), nicplug.KindSwitch, 13},
		{"switch-user-udp-link-down", p, attached("vm1", user, 5), wiring(user, false), wiring(udp, false), nicplug.KindSwitch, 4},
		{"switch-direct-same-parent", p, attached("vm1", direct, 1), wiring(direct, true),
			wiring(domain.Backend{Type: domain.TypeDirect, Dev: "veth0", Mode: "vepa"}, true), nicplug.KindSwitch, 12},
		{"link-down", p, attached("vm1", user, 1), wiring(user, true), wiring(user, false), nicplug.KindLink, 1},
		{"link-up", p, attached("vm1", direct, 1), wiring(direct, false), wiring(direct, true), nicplug.KindLink, 1},
		{"cleanup", p, leftovers, wiring(user, true), wiring(user, true), nicplug.KindCleanup, 5},
		{"cleanup-then-switch", p, leftovers, wiring(user, true), wiring(direct, true), nicplug.KindSwitch, 15},
	}
}

func TestPlannerGolden(t *testing.T) {
	for _, tt := range planCases() {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := tt.planner.Update(tt.live, tt.cur, tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Kind != tt.kind || len(plan.Steps) != tt.steps {
				t.Errorf("plan is %s with %d steps, want %s with %d:\n%s", plan.Kind, len(plan.Steps), tt.kind, tt.steps, plan)
			}
			checkGolden(t, "plan-"+tt.name, plan)
		})
	}
}

func checkGolden(t *testing.T, name string, plan *nicplug.Plan) {
	t.Helper()
	js, err := plan.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		file string
		got  string
	}{
		{filepath.Join("testdata", name+".txt.golden"), plan.String()},
		{filepath.Join("testdata", name+".json.golden"), string(js) + "\n"},
	} {
		if *update {
			if err := os.WriteFile(f.file, []byte(f.got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		if diff := cmp.Diff(string(want), f.got); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", f.file, diff)
		}
	}
	// The JSON form decodes back to the same plan data.
	var back nicplug.Plan
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.String() != plan.String() {
		t.Errorf("JSON round trip changed the plan:\n%s\nvs\n%s", back.String(), plan.String())
	}
}

// TestPlannerInvariants checks the hub rules on every golden case: never
// two backends on the hub at once; the link is down whenever no backend is
// attached; every fd produced is sent, every name sent is consumed.
func TestPlannerInvariants(t *testing.T) {
	for _, tt := range planCases() {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := tt.planner.Update(tt.live, tt.cur, tt.want)
			if err != nil {
				t.Fatal(err)
			}
			onHub := map[string]bool{}
			for _, b := range tt.live.Backends {
				if b.Attached() {
					onHub[b.Port] = true
				}
			}
			link := tt.cur.LinkUp
			produced, passed := map[string]bool{}, map[string]bool{}
			for _, s := range plan.Steps {
				a := s.Do
				var args map[string]any
				if len(a.Args) > 0 {
					if err := json.Unmarshal(a.Args, &args); err != nil {
						t.Fatal(err)
					}
				}
				switch {
				case a.Command == "netdev_add" && args["type"] == "hubport":
					onHub[args["id"].(string)] = true
				case a.Command == "netdev_del":
					delete(onHub, args["id"].(string))
				case a.Command == "set_link":
					link = args["up"].(bool)
				case a.Op == nicplug.OpOpenMacvtap || a.Op == nicplug.OpOpenTap:
					produced[a.FD] = true
				case a.Command == "getfd":
					if !produced[a.FD] {
						t.Errorf("step %d sends fd %s that no step opened", s.Num, a.FD)
					}
					passed[a.FD] = true
				}
				for _, c := range a.Consumes {
					if !passed[c] {
						t.Errorf("step %d consumes %s that was not passed", s.Num, c)
					}
					delete(passed, c)
				}
				if len(onHub) > 1 {
					t.Errorf("after step %d, %d backends on the hub: %v", s.Num, len(onHub), onHub)
				}
				if link && len(onHub) == 0 {
					t.Errorf("after step %d the link is up with no backend", s.Num)
				}
			}
			if len(passed) > 0 {
				t.Errorf("fd names passed and never consumed: %v", passed)
			}
			if link != tt.want.LinkUp {
				t.Errorf("link ends %v, want %v", link, tt.want.LinkUp)
			}
			if tt.want.Backend.IsNone() != (len(onHub) == 0) {
				t.Errorf("hub ends with %v, want backend %v", onHub, tt.want.Backend)
			}
		})
	}
}

func TestPlannerStartGolden(t *testing.T) {
	p := nicplug.Planner{VM: "vm1"}
	live := &nicplug.State{VM: "vm1", NICs: []nicplug.NICState{
		{Device: "net0", MAC: mac0, Peer: "np.net0.nic", Hub: 0},
		{Device: "net1", MAC: "52:54:00:00:00:02", Peer: "np.net1.nic", Hub: 1},
		{Device: "lan", MAC: "52:54:00:00:00:03", Peer: "np.lan.nic", Hub: 2},
	}}
	wants := []nicplug.Wiring{
		{Device: "net0", Hub: 0, MAC: mac0, Backend: none},
		{Device: "net1", Hub: 1, MAC: "52:54:00:00:00:02", Backend: direct, LinkUp: true},
		{Device: "lan", Hub: 2, MAC: "52:54:00:00:00:03", Backend: user, LinkUp: false},
	}
	plan, err := p.Start(live, wants)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Kind != nicplug.KindStart || len(plan.Steps) != 10 {
		t.Errorf("start plan is %s with %d steps, want start with 10:\n%s", plan.Kind, len(plan.Steps), plan)
	}
	checkGolden(t, "plan-start", plan)
	live.Running = true
	plan, err = p.Start(live, wants)
	if err != nil {
		t.Fatal(err)
	}
	if last := plan.Steps[len(plan.Steps)-1]; last.Do.Command == "cont" {
		t.Errorf("start plan of a running VM ends with cont:\n%s", plan)
	}
}

func TestPlannerRejects(t *testing.T) {
	p := nicplug.Planner{VM: "vm1"}
	notOnHub := attached("vm1", none, 0)
	notOnHub.Peer, notOnHub.Hub = "hostnet0", -1
	wrongHub := attached("vm1", none, 0)
	wrongHub.Hub = 3
	foreign := attached("vm1", none, 0)
	foreign.Backends = []nicplug.BackendState{{ID: "hostnet9", Driver: "tap", Port: "hp9"}}
	tests := []struct {
		name      string
		live      nicplug.NICState
		cur, want nicplug.Wiring
		errWant   string
		badInput  bool
	}{
		{"not on hub", notOnHub, wiring(none, false), wiring(user, true), "not peered with its hub port", false},
		{"wrong hub", wrongHub, wiring(none, false), wiring(user, true), "on hub 3, want hub 0", false},
		{"foreign backend", foreign, wiring(none, false), wiring(user, true), `"hostnet9" is not one of its backends`, false},
		{"bad backend", attached("vm1", none, 0), wiring(none, false), wiring(domain.Backend{Type: domain.TypeDirect}, true), "source dev", true},
		{"other device", attached("vm1", none, 0), wiring(none, false), nicplug.Wiring{Device: "net9", Backend: user}, "plan for net9", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := p.Update(tt.live, tt.cur, tt.want)
			if err == nil || !strings.Contains(err.Error(), tt.errWant) || !strings.HasPrefix(err.Error(), "nicplug: ") {
				t.Fatalf("Update = %v, %v; want error containing %q", plan, err, tt.errWant)
			}
			// Only a backend that cannot be built is the caller's input;
			// a live state that does not fit is not.
			if want, got := tt.badInput, errors.Is(err, nicplug.ErrBadInput); want != got {
				t.Errorf("errors.Is(%v, ErrBadInput) = %v, want %v", err, got, want)
			}
		})
	}
}

func BenchmarkPlan(b *testing.B) {
	for _, tt := range planCases() {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tt.planner.Update(tt.live, tt.cur, tt.want); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
