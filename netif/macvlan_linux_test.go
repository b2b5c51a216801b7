package netif

import (
	"errors"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIntegrationMacvlanListSweep creates macvlans in every mode next to a
// macvtap, a fixed tap and a bridge tap, checks ListOwned's Kind, Parent,
// Mode and Master, that a MAC taken on the parent is refused, and that
// DeleteLink and Sweep remove owned macvlans and fixed taps (with the
// qdiscs of their redirects) and nothing else.
func TestIntegrationMacvlanListSweep(t *testing.T) {
	n := newNph1Netns(t)
	ctx := ctxT(t)
	n.veth(t, "nph1p0", "nph1p1")
	n.veth(t, "nph1q0", "nph1q1")
	n.bridge(t, "nph1br", false)
	n.ip(t, "link", "add", "link", "nph1p0", "name", "nph1user", "type", "macvlan", "mode", "bridge")
	type row struct{ Name, Kind, Parent, Mode, Master, VM string }
	var want []row
	for i, mode := range []MacvtapMode{MacvtapBridge, MacvtapVEPA, MacvtapPrivate} {
		name := "nph1mvl" + mode.String()[:3]
		mac := mustMAC("52:54:00:00:ee:0" + string(rune('1'+i)))
		l, err := CreateMacvlan(ctx, &MacvlanConfig{Name: name, Parent: "nph1p0", Mode: mode, MAC: mac, Owner: Owner{"vmA", name}, Netns: n.Path})
		if err != nil {
			t.Fatal(err)
		}
		if l.Kind != KindMacvlan || l.Mode != mode.String() || l.Parent != "nph1p0" {
			t.Errorf("CreateMacvlan returned %+v", l)
		}
		want = append(want, row{name, KindMacvlan, "nph1p0", mode.String(), "", "vmA"})
	}
	if _, err := CreateMacvlan(ctx, &MacvlanConfig{Name: "nph1pass", Parent: "nph1q0", Mode: MacvtapPassthru, MAC: mustMAC("52:54:00:00:ee:09"), Owner: Owner{"vmB", "p"}, Netns: n.Path}); err != nil {
		t.Fatal(err)
	}
	want = append(want, row{"nph1pass", KindMacvlan, "nph1q0", "passthrough", "", "vmB"})
	if _, err := CreateMacvtap(ctx, &MacvtapConfig{Name: "nph1mvt", Parent: "nph1p0", Mode: MacvtapBridge, MAC: mustMAC("52:54:00:00:ee:11"), Owner: Owner{"vmB", "t"}, Netns: n.Path}); err != nil {
		t.Fatal(err)
	}
	want = append(want, row{"nph1mvt", KindMacvtap, "nph1p0", "bridge", "", "vmB"})
	if _, err := CreateFixedTap(ctx, &FixedTapConfig{Name: "nph1fix", Queues: 2, UID: -1, GID: -1, Owner: Owner{"vmB", "f"}, Netns: n.Path}); err != nil {
		t.Fatal(err)
	}
	want = append(want, row{"nph1fix", KindTap, "", "", "", "vmB"})
	if _, err := CreateBridgeTap(ctx, &BridgeTapConfig{Name: "nph1btap", Bridge: "nph1br", Owner: Owner{"vmA", "b"}, Netns: n.Path}); err != nil {
		t.Fatal(err)
	}
	want = append(want, row{"nph1btap", KindTap, "", "", "nph1br", "vmA"})
	// A redirect pair between vmB's fixed tap and vmA's macvlan.
	if err := AddRedirect(ctx, n.Path, "nph1fix", "nph1mvlbri"); err != nil {
		t.Fatal(err)
	}
	if err := AddRedirect(ctx, n.Path, "nph1mvlbri", "nph1fix"); err != nil {
		t.Fatal(err)
	}

	before, fds := n.state(t), openFDs(t)
	for _, tc := range []struct {
		cfg    MacvlanConfig
		kind   error
		substr string
	}{
		{MacvlanConfig{Parent: "nph1p0", Mode: MacvtapBridge, MAC: mustMAC("52:54:00:00:ee:01")}, nil, "already used by another macvlan/macvtap of the parent"},
		{MacvlanConfig{Parent: "nph1q0", Mode: MacvtapPassthru, MAC: mustMAC("52:54:00:00:ee:0a")}, nil, "passthrough needs it alone"},
		{MacvlanConfig{Parent: "nph1none", MAC: mustMAC("52:54:00:00:ee:0a")}, os.ErrNotExist, `parent "nph1none" not found in network namespace /run/netns/nph1-`},
		{MacvlanConfig{Parent: "nph1p0", MAC: mustMAC("01:00:5e:00:00:01")}, os.ErrInvalid, "multicast"},
		{MacvlanConfig{Parent: "nph1p0"}, os.ErrInvalid, "MAC is missing"},
		{MacvlanConfig{Parent: "nph1p0", MAC: mustMAC("52:54:00:00:ee:0a"), Name: "nph1mvlbri"}, os.ErrExist, "already exists"},
		{MacvlanConfig{Parent: "nph1p0", MAC: mustMAC("52:54:00:00:ee:0a"), Name: "nph1-far-too-long"}, os.ErrInvalid, "longer than 15"},
		{MacvlanConfig{Parent: "nph1p0", MAC: mustMAC("52:54:00:00:ee:0a"), Mode: 9}, os.ErrInvalid, "unknown macvtap mode 9"},
	} {
		cfg := tc.cfg
		cfg.Netns = n.Path
		cfg.Owner = Owner{"vmC", "x"}
		_, err := CreateMacvlan(ctx, &cfg)
		if err == nil || (tc.kind != nil && !errors.Is(err, tc.kind)) || !strings.Contains(err.Error(), tc.substr) || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "netif: create macvlan") {
			t.Errorf("CreateMacvlan %+v: %v, want a one-line error (%v) containing %q", tc.cfg, err, tc.kind, tc.substr)
		}
	}
	for _, cfg := range []*FixedTapConfig{
		{Name: "", Owner: Owner{"vmC", "x"}},
		{Name: "nph1x", Queues: 257, Owner: Owner{"vmC", "x"}},
		{Name: "nph1x", MAC: mustMAC("00:00:00:00:00:00"), Owner: Owner{"vmC", "x"}},
		{Name: "nph1x", Owner: Owner{"", "x"}},
		{Name: "nph1p0", Owner: Owner{"vmC", "x"}},
	} {
		cfg.Netns = n.Path
		if _, err := CreateFixedTap(ctx, cfg); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("CreateFixedTap %+v: %v, want a one-line error", cfg, err)
		}
	}
	n.checkState(t, before, "refused creates")
	checkNoNewFDs(t, fds, "refused creates")

	owned, err := ListOwned(ctx, n.Path)
	if err != nil {
		t.Fatal(err)
	}
	var got []row
	for _, l := range owned {
		got = append(got, row{l.Name, l.Kind, l.Parent, l.Mode, l.Master, l.Owner.VM})
	}
	byName := func(s []row) { sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name }) }
	byName(want)
	byName(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListOwned (-want +got):\n%s", diff)
	}

	if err := DeleteLink(ctx, n.Path, "nph1mvlvep"); err != nil {
		t.Errorf("DeleteLink of an owned macvlan: %v", err)
	}
	if err := DeleteLink(ctx, n.Path, "nph1user"); !errors.Is(err, ErrNotOwned) {
		t.Errorf("DeleteLink of a user's macvlan: %v, want ErrNotOwned", err)
	}
	deleted, err := Sweep(ctx, n.Path, func(o Owner) bool { return o.VM != "vmB" })
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(deleted)
	if want := []string{"nph1fix", "nph1mvt", "nph1pass"}; !slices.Equal(deleted, want) {
		t.Errorf("Sweep deleted %v, want %v", deleted, want)
	}
	left := n.linkNames(t)
	for _, name := range []string{"nph1user", "nph1mvlbri", "nph1mvlpri", "nph1btap", "nph1p0", "nph1q0", "nph1br"} {
		if !slices.Contains(left, name) {
			t.Errorf("%s is gone after Sweep", name)
		}
	}
	// The macvlan's redirect to the swept tap stays, its target gone:
	// ReadTapPlug-like read-back treats it as none, DelRedirect removes it.
	if err := DelRedirect(ctx, n.Path, "nph1mvlbri"); err != nil {
		t.Errorf("DelRedirect of a redirect whose target was swept: %v", err)
	}
	if got := n.tc(t, "qdisc", "show", "dev", "nph1mvlbri"); strings.Contains(got, "ingress") {
		t.Errorf("ingress qdisc left on the macvlan:\n%s", got)
	}
}
