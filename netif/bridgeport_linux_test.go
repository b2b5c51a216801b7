package netif

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIntegrationSetMaster moves a fixed tap between bridges and off them,
// checks with traffic that it forwards on the new bridge, and that refused
// moves (missing, non-bridge, foreign) change nothing.
func TestIntegrationSetMaster(t *testing.T) {
	n := newNph1Netns(t)
	ctx := ctxT(t)
	n.bridge(t, "nph1brA", false)
	n.bridge(t, "nph1brB", false)
	n.veth(t, "nph1a0", "nph1a1")
	n.veth(t, "nph1b0", "nph1b1")
	n.ip(t, "link", "set", "nph1a0", "master", "nph1brA")
	n.ip(t, "link", "set", "nph1b0", "master", "nph1brB")
	guest := mustMAC("52:54:00:00:aa:01")
	l, err := CreateFixedTap(ctx, &FixedTapConfig{Name: "nph1tap", MAC: guest, UID: -1, GID: -1, Owner: Owner{"vm", "net0"}, Netns: n.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Delete(ctx)
	files, err := l.Open(ctx, &OpenOptions{VnetHdr: true})
	if err != nil {
		t.Fatal(err)
	}
	pa, pb := n.openPacket(t, "nph1a1"), n.openPacket(t, "nph1b1")
	master := func() string {
		p, err := ReadTapPlug(ctx, n.Path, "nph1tap")
		if err != nil {
			t.Fatal(err)
		}
		return p.Master
	}
	for _, step := range []struct{ bridge, peer string }{{"nph1brA", "a"}, {"nph1brB", "b"}, {"nph1brB", "b"}, {"", ""}, {"nph1brA", "a"}} {
		if err := SetMaster(ctx, n.Path, "nph1tap", step.bridge); err != nil {
			t.Fatalf("SetMaster %q: %v", step.bridge, err)
		}
		if got := master(); got != step.bridge {
			t.Errorf("after SetMaster %q: master %q", step.bridge, got)
		}
		payload := "to-" + step.bridge
		writeTo(t, files[0], true, frame(mustMAC("ff:ff:ff:ff:ff:ff"), guest, payload))
		gotA, gotB := pa.waitFor(t, payload, 300*time.Millisecond), pb.waitFor(t, payload, 300*time.Millisecond)
		if gotA != (step.peer == "a") || gotB != (step.peer == "b") {
			t.Errorf("on %q: frame seen on bridge A %v, bridge B %v", step.bridge, gotA, gotB)
		}
	}

	before, fds := n.state(t), openFDs(t)
	for _, tc := range []struct {
		link, bridge string
		kind         error
		substr       string
	}{
		{"nph1tap", "nph1nobr", os.ErrNotExist, `bridge "nph1nobr" not found in network namespace /run/netns/nph1-`},
		{"nph1tap", "nph1a1", os.ErrInvalid, `"nph1a1" in network namespace /run/netns/nph1-`},
		{"nph1none", "nph1brA", os.ErrNotExist, `device "nph1none" not found in network namespace`},
		{"nph1b1", "nph1brA", ErrNotOwned, "refusing to change it"},
		{"nph1a0", "", ErrNotOwned, "refusing to change it"},
		{"nph1tap", "bad/name", os.ErrInvalid, "contains"},
	} {
		err := SetMaster(ctx, n.Path, tc.link, tc.bridge)
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.substr) || strings.Contains(err.Error(), "\n") {
			t.Errorf("SetMaster %s %q: %v, want a one-line %v containing %q", tc.link, tc.bridge, err, tc.kind, tc.substr)
		}
	}
	if err := SetMaster(ctx, n.Path, "nph1tap", "nph1a1"); err == nil || !strings.Contains(err.Error(), "is a veth, not a bridge") {
		t.Errorf("SetMaster to a veth: %v, want it named", err)
	}
	n.checkState(t, before, "refused SetMaster calls")
	checkNoNewFDs(t, fds, "refused SetMaster calls")
	if got := master(); got != "nph1brA" {
		t.Errorf("refused moves changed the master to %q", got)
	}
}

// TestIntegrationAccessVLAN makes a tap an access port of a VLAN on a
// VLAN-filtering bridge, replaces a trunk set-up, restores the default,
// and checks the refusals (no VLAN filtering, no master, vlan 5000,
// foreign port) leave the port's VLANs and the bridge as they were.
func TestIntegrationAccessVLAN(t *testing.T) {
	n := newNph1Netns(t)
	if !vlanFiltering(t, n) {
		requireVLANRefused(t, n)
		return
	}
	ctx := ctxT(t)
	n.bridge(t, "nph1br", true)
	n.bridge(t, "nph1flat", false)
	n.veth(t, "nph1p0", "nph1p1")
	n.ip(t, "link", "set", "nph1p0", "master", "nph1br")
	owner := Owner{"vm", "net0"}
	l, err := CreateBridgeTap(ctx, &BridgeTapConfig{Name: "nph1tap", Bridge: "nph1br", MAC: mustMAC("52:54:00:00:bb:01"), Owner: owner, Netns: n.Path, VLAN: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Delete(ctx)
	vlans := func() string {
		p, err := ReadTapPlug(ctx, n.Path, "nph1tap")
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, v := range p.VLANs {
			s = append(s, v.String())
		}
		return strings.Join(s, ",") + " access " + strconv.Itoa(p.VLAN)
	}
	if got, want := vlans(), "10 PVID untagged access 10"; got != want {
		t.Errorf("CreateBridgeTap with VLAN 10: %q, want %q", got, want)
	}
	// A trunk-like set-up made by hand is replaced by the access VLAN.
	n.run(t, "bridge", "vlan", "add", "dev", "nph1tap", "vid", "30")
	n.run(t, "bridge", "vlan", "add", "dev", "nph1tap", "vid", "40", "untagged")
	if got, want := vlans(), "10 PVID untagged,30,40 untagged access 0"; got != want {
		t.Errorf("after bridge vlan add: %q, want %q", got, want)
	}
	for _, step := range []struct {
		vlan int
		want string
	}{
		{20, "20 PVID untagged access 20"},
		{20, "20 PVID untagged access 20"},
		{30, "30 PVID untagged access 30"},
		{0, "1 PVID untagged access 0"}, // the default reads as no access VLAN
	} {
		if err := SetAccessVLAN(ctx, n.Path, "nph1tap", step.vlan); err != nil {
			t.Fatalf("SetAccessVLAN %d: %v", step.vlan, err)
		}
		if got := vlans(); got != step.want {
			t.Errorf("SetAccessVLAN %d: %q, want %q", step.vlan, got, step.want)
		}
	}
	n.ip(t, "link", "set", "nph1br", "type", "bridge", "vlan_default_pvid", "7")
	if err := SetAccessVLAN(ctx, n.Path, "nph1tap", 0); err != nil {
		t.Fatal(err)
	}
	if got, want := vlans(), "7 PVID untagged access 0"; got != want {
		t.Errorf("SetAccessVLAN 0 with default_pvid 7: %q, want %q", got, want)
	}
	if p, err := ReadTapPlug(ctx, n.Path, "nph1tap"); err != nil || p.DefaultPVID != 7 {
		t.Errorf("ReadTapPlug with default_pvid 7: %+v, %v", p, err)
	}
	if err := SetAccessVLAN(ctx, n.Path, "nph1tap", 100); err != nil {
		t.Fatal(err)
	}

	// Refusals.
	tap2, err := CreateFixedTap(ctx, &FixedTapConfig{Name: "nph1tap2", UID: -1, GID: -1, Owner: owner, Netns: n.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer tap2.Delete(ctx)
	tap3, err := CreateBridgeTap(ctx, &BridgeTapConfig{Name: "nph1tap3", Bridge: "nph1flat", Owner: owner, Netns: n.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer tap3.Delete(ctx)
	before, fds := n.state(t), openFDs(t)
	bridgeBefore := n.bridgeConf(t, "nph1flat")
	vlansBefore := n.run(t, "bridge", "vlan", "show")
	checkVLANRefusals(t, n, []vlanRefusal{
		{"nph1tap3", 10, os.ErrInvalid, "`ip link set nph1flat type bridge vlan_filtering 1`"},
		{"nph1tap2", 10, os.ErrInvalid, `"nph1tap2" in network namespace /run/netns/nph1-`},
		{"nph1tap", 5000, os.ErrInvalid, "VLAN 5000 out of range 1..4094"},
		{"nph1tap", -1, os.ErrInvalid, "VLAN -1 out of range"},
		{"nph1p0", 10, ErrNotOwned, "refusing to change it"},
		{"nph1gone", 10, os.ErrNotExist, `device "nph1gone" not found in network namespace /run/netns/nph1-`},
	})
	// CreateBridgeTap with a VLAN on a bridge that does not filter: refused,
	// and the tap it made is gone again.
	_, err = CreateBridgeTap(ctx, &BridgeTapConfig{Name: "nph1tap4", Bridge: "nph1flat", Owner: owner, Netns: n.Path, VLAN: 10})
	if !errors.Is(err, os.ErrInvalid) || !strings.Contains(err.Error(), "vlan_filtering 1") {
		t.Errorf("CreateBridgeTap with VLAN on a non-filtering bridge: %v", err)
	}
	_, err = CreateBridgeTap(ctx, &BridgeTapConfig{Name: "nph1tap4", Bridge: "nph1br", Owner: owner, Netns: n.Path, VLAN: 4095})
	if !errors.Is(err, os.ErrInvalid) {
		t.Errorf("CreateBridgeTap with VLAN 4095: %v", err)
	}
	n.checkState(t, before, "refused VLAN changes")
	checkNoNewFDs(t, fds, "refused VLAN changes")
	if got := n.bridgeConf(t, "nph1flat"); got != bridgeBefore {
		t.Errorf("a refused SetAccessVLAN changed the bridge:\n%s\n->\n%s", bridgeBefore, got)
	}
	if got := n.run(t, "bridge", "vlan", "show"); got != vlansBefore {
		t.Errorf("refused calls changed VLANs:\n%s\n->\n%s", vlansBefore, got)
	}
	if got := vlans(); got != "100 PVID untagged access 100" {
		t.Errorf("refused calls changed the tap's VLANs: %q", got)
	}
	// The veth was on the bridge's default PVID when vlan_default_pvid
	// went from 1 to 7: the kernel moved it along (br_vlan_set_default_pvid
	// moves every port still on the old default).
	if got, err := PortVLANs(ctx, n.Path, "nph1p0"); err != nil || !slices.Equal(got, []PortVLAN{{VID: 7, PVID: true, Untagged: true}}) {
		t.Errorf("PortVLANs of the veth: %v, %v", got, err)
	}
}

// TestIntegrationAccessVLANRestore checks the undo of SetAccessVLAN. A
// valid SetAccessVLAN cannot be made to fail half-way from user space, so
// the test drives its two halves: applyVLANs with a VID the kernel refuses
// (0) after a first step that succeeds fails half-way, then
// applyVLANs(now, before), what setAccessVLAN runs on failure, must bring
// back exactly the port's VLANs as they were.
func TestIntegrationAccessVLANRestore(t *testing.T) {
	n := newNph1Netns(t)
	if !vlanFiltering(t, n) {
		requireVLANRefused(t, n)
		return
	}
	ctx := ctxT(t)
	n.bridge(t, "nph1br", true)
	l, err := CreateBridgeTap(ctx, &BridgeTapConfig{Name: "nph1tap", Bridge: "nph1br", Owner: Owner{"vm", "net0"}, Netns: n.Path, VLAN: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Delete(ctx)
	n.run(t, "bridge", "vlan", "add", "dev", "nph1tap", "vid", "30")
	before := n.run(t, "bridge", "vlan", "show", "dev", "nph1tap")
	h := n.handle(t)
	nl, err := h.LinkByName("nph1tap")
	if err != nil {
		t.Fatal(err)
	}
	have, err := portVLANs(h, nl.Attrs().Index)
	if err != nil {
		t.Fatal(err)
	}
	want := []PortVLAN{{VID: 20, PVID: true, Untagged: true}, {VID: 0}}
	if err := applyVLANs(h, nl, have, want); err == nil {
		t.Fatal("applyVLANs with VID 0 succeeded")
	}
	now, err := portVLANs(h, nl.Attrs().Index)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(now, have) {
		t.Fatal("the first step did not change anything: the test proves nothing")
	}
	if err := applyVLANs(h, nl, now, have); err != nil {
		t.Fatal(err)
	}
	if got := n.run(t, "bridge", "vlan", "show", "dev", "nph1tap"); got != before {
		t.Errorf("VLANs not restored:\n%s\n->\n%s", before, got)
	}
}

// run runs a command in the namespace (`ip netns exec`).
func (n *testNetns) run(t testing.TB, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// TestIntegrationAccessVLANRefused runs on any kernel: the refusals that
// need no VLAN-filtering bridge leave everything as it was, with a
// one-line error naming what is wrong and, for a bridge that does not
// filter VLANs, how to enable it.
func TestIntegrationAccessVLANRefused(t *testing.T) {
	n := newNph1Netns(t)
	ctx := ctxT(t)
	n.bridge(t, "nph1flat", false)
	n.veth(t, "nph1p0", "nph1p1")
	n.ip(t, "link", "set", "nph1p0", "master", "nph1flat")
	owner := Owner{"vm", "net0"}
	l, err := CreateBridgeTap(ctx, &BridgeTapConfig{Name: "nph1tap", Bridge: "nph1flat", Owner: owner, Netns: n.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Delete(ctx)
	tap2, err := CreateFixedTap(ctx, &FixedTapConfig{Name: "nph1tap2", UID: -1, GID: -1, Owner: owner, Netns: n.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer tap2.Delete(ctx)
	before, fds := n.state(t), openFDs(t)
	bridgeBefore := n.bridgeConf(t, "nph1flat")
	checkVLANRefusals(t, n, []vlanRefusal{
		{"nph1tap", 10, os.ErrInvalid, "does not filter VLANs (enable it with `ip link set nph1flat type bridge vlan_filtering 1`)"},
		{"nph1tap", 0, os.ErrInvalid, "does not filter VLANs"},
		{"nph1tap2", 10, os.ErrInvalid, `"nph1tap2" in network namespace /run/netns/nph1-`},
		{"nph1tap", 5000, os.ErrInvalid, "VLAN 5000 out of range 1..4094"},
		{"nph1tap", -1, os.ErrInvalid, "VLAN -1 out of range"},
		{"nph1p0", 10, ErrNotOwned, "refusing to change it"},
		{"nph1gone", 10, os.ErrNotExist, `device "nph1gone" not found in network namespace /run/netns/nph1-`},
	})
	for _, vlan := range []int{10, 4095} {
		_, err = CreateBridgeTap(ctx, &BridgeTapConfig{Name: "nph1tap4", Bridge: "nph1flat", Owner: owner, Netns: n.Path, VLAN: vlan})
		if !errors.Is(err, os.ErrInvalid) || strings.Contains(err.Error(), "\n") {
			t.Errorf("CreateBridgeTap with VLAN %d on a bridge that does not filter: %v, want os.ErrInvalid", vlan, err)
		}
	}
	n.checkState(t, before, "refused VLAN changes")
	checkNoNewFDs(t, fds, "refused VLAN changes")
	if got := n.bridgeConf(t, "nph1flat"); got != bridgeBefore {
		t.Errorf("a refused SetAccessVLAN changed the bridge:\n%s\n->\n%s", bridgeBefore, got)
	}
	p, err := ReadTapPlug(ctx, n.Path, "nph1tap")
	if err != nil || p.Master != "nph1flat" || p.VLAN != 0 {
		t.Errorf("ReadTapPlug on a bridge that does not filter: %+v, %v", p, err)
	}
}

// vlanRefusal is a SetAccessVLAN call that must be refused.
type vlanRefusal struct {
	link   string
	vlan   int
	kind   error
	substr string
}

// checkVLANRefusals checks that each call is refused with a one-line
// error of its kind containing its text.
func checkVLANRefusals(t *testing.T, n *testNetns, cases []vlanRefusal) {
	t.Helper()
	ctx := ctxT(t)
	for _, tc := range cases {
		err := SetAccessVLAN(ctx, n.Path, tc.link, tc.vlan)
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.substr) || strings.Contains(err.Error(), "\n") {
			t.Errorf("SetAccessVLAN %s %d: %v, want a one-line %v containing %q", tc.link, tc.vlan, err, tc.kind, tc.substr)
		}
	}
}
