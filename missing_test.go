package nicplug_test

import (
	"slices"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
)

// TestPlanMissingHostLink checks plans for a NIC whose live backend needs
// a host link that the host does not list (it lives in another network
// namespace, or a failed rollback deleted it): nothing is deleted for it
// and the plan reports it missing; a wanted backend in that state is
// replaced, not kept.
func TestPlanMissingHostLink(t *testing.T) {
	p := nicplug.Planner{VM: "vm", CarrierHold: nicplug.NoCarrierHold}
	link := backend.LinkName("vm", "net0", 1)
	gone := attached("vm", direct, 1)
	gone.HostLinks = nil
	for _, tc := range []struct {
		name      string
		want      nicplug.Wiring
		kind      nicplug.PlanKind
		newLinkOK bool
	}{
		{"unplug", wiring(none, false), nicplug.KindUnplug, false},
		{"switch", wiring(user, true), nicplug.KindSwitch, false},
		{"same backend", wiring(direct, true), nicplug.KindSwitch, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := p.Update(gone, wiring(direct, true), tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Kind != tc.kind || !slices.Equal(plan.Missing, []string{link}) {
				t.Errorf("plan %s, missing %v; want %s, missing [%s]:\n%s", plan.Kind, plan.Missing, tc.kind, link, plan)
			}
			for _, s := range plan.Steps {
				if s.Do.Op == nicplug.OpDeleteLink {
					t.Errorf("step %d deletes %s, which the host does not have", s.Num, s.Do.Link)
				}
				if s.Do.Command == "netdev_del" && len(s.Undo) > 0 && s.Do.Args != nil && string(s.Do.Args) == `{"id":"`+backend.BackendID("net0", 1, direct).String()+`"}` {
					t.Errorf("step %d has an undo that would reopen the missing link: %v", s.Num, s.Undo)
				}
				if s.Do.Op == nicplug.OpCreateMacvtap && (!tc.newLinkOK || s.Do.Link == link) {
					t.Errorf("step %d creates %s", s.Num, s.Do.Link)
				}
			}
		})
	}
}
