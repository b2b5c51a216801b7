package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
)

const benchMAC = "52:54:00:be:00:01"

var (
	bNone    = domain.Backend{Type: domain.TypeNone}
	bUser    = domain.Backend{Type: domain.TypeUser}
	bDirect0 = domain.Backend{Type: domain.TypeDirect, Dev: "veth0", Mode: "bridge"}
	bDirect2 = domain.Backend{Type: domain.TypeDirect, Dev: "veth2", Mode: "bridge"}
)

// planCase is one Planner.Update call of a given plan kind.
type planCase struct {
	name      string
	kind      nicplug.PlanKind
	live      nicplug.NICState
	cur, want nicplug.Wiring
}

func wiringOf(b domain.Backend, up bool) nicplug.Wiring {
	return nicplug.Wiring{Device: "net0", Hub: 0, MAC: benchMAC, Backend: b, LinkUp: up}
}

// liveWith is net0's live state with backend b of generation gen attached.
func liveWith(b domain.Backend, gen int) nicplug.NICState {
	ns := nicplug.NICState{Device: "net0", MAC: benchMAC, Peer: domain.HubPortIDFor("net0"), Hub: 0}
	if b.IsNone() {
		return ns
	}
	id := backend.BackendID("net0", gen, b)
	need, _ := backend.Needs(b)
	driver := "user"
	if need.PassesFD() {
		driver = "tap"
	}
	ns.Backends = []nicplug.BackendState{{ID: id.String(), Driver: driver, Port: id.Port().String()}}
	if need.Creates() {
		ns.HostLinks = []string{backend.LinkName("bench", "net0", gen)}
	}
	return ns
}

func planCases() []planCase {
	return []planCase{
		{"plug none→user", nicplug.KindPlug, liveWith(bNone, 0), wiringOf(bNone, false), wiringOf(bUser, true)},
		{"plug none→macvtap", nicplug.KindPlug, liveWith(bNone, 0), wiringOf(bNone, false), wiringOf(bDirect0, true)},
		{"unplug user→none", nicplug.KindUnplug, liveWith(bUser, 1), wiringOf(bUser, true), wiringOf(bNone, false)},
		{"switch user→macvtap", nicplug.KindSwitch, liveWith(bUser, 1), wiringOf(bUser, true), wiringOf(bDirect0, true)},
		{"switch macvtap→macvtap", nicplug.KindSwitch, liveWith(bDirect0, 1), wiringOf(bDirect0, true), wiringOf(bDirect2, true)},
		{"link down", nicplug.KindLink, liveWith(bUser, 1), wiringOf(bUser, true), wiringOf(bUser, false)},
		{"noop", nicplug.KindNoop, liveWith(bUser, 1), wiringOf(bUser, true), wiringOf(bUser, true)},
	}
}

// runPlan times Planner.Update for each plan kind.
func runPlan(r *Report, iters int) error {
	p := &nicplug.Planner{VM: "bench", CarrierHold: nicplug.NoCarrierHold}
	for _, c := range planCases() {
		plan, err := p.Update(c.live, c.cur, c.want)
		if err != nil {
			return fmt.Errorf("bench: plan %s: %w", c.name, err)
		}
		if plan.Kind != c.kind {
			return fmt.Errorf("bench: plan %s is of kind %s, want %s", c.name, plan.Kind, c.kind)
		}
		f := func() { p.Update(c.live, c.cur, c.want) }
		start := time.Now()
		for range iters {
			f()
		}
		per := time.Since(start) / time.Duration(iters)
		allocs := testing.AllocsPerRun(max(iters/10, 1), f)
		r.add(Row{Part: "1 plan", Name: "Planner.Update " + c.name, N: iters,
			Value: fmt.Sprintf("%d ns/op, %.0f allocs/op", per.Nanoseconds(), allocs),
			Note:  fmt.Sprintf("%d steps", len(plan.Steps))})
	}
	return nil
}
