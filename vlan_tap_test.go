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
	"github.com/nicplug/nicplug/internal/testenv"
)

var (
	// Access VLANs of a NIC on br0, on the tap datapath and on the hub.
	tBridgeV10 = tapIface("bridge", "<source bridge='br0'/><vlan><tag id='10'/></vlan>")
	tBridgeV20 = tapIface("bridge", "<source bridge='br0'/><vlan><tag id='20'/></vlan>")
	xBridgeV10 = iface(macA, "bridge", "<source bridge='br0'/><vlan><tag id='10'/></vlan>")
	xBridgeV20 = iface(macA, "bridge", "<source bridge='br0'/><vlan><tag id='20'/></vlan>")
)

// filterVLANs turns on VLAN filtering on the namespace's br0 and reports
// whether the kernel can (CONFIG_BRIDGE_VLAN_FILTERING). Under
// NICPLUG_VLAN_FILTERING (the run in a guest with Debian's kernel,
// package internal/kernelvm) a kernel that cannot fails the test.
func filterVLANs(t *testing.T, ns *testNetns) bool {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns.name, "link", "set", "br0", "type", "bridge", "vlan_filtering", "1").CombinedOutput()
	if err == nil {
		return true
	}
	if testenv.WantVLANFiltering() {
		t.Fatalf("%s is set but br0 cannot filter VLANs: %v: %s", testenv.VLANFilteringVar, err, out)
	}
	return false
}

// TestIntegrationTapVLAN changes a running tap-datapath NIC's access VLAN
// on a VLAN-filtering bridge through plans: none → 10 → 20 → none, each a
// set-vlan step on the fixed tap (no set-master: the tap stays on br0). At
// every step of each plan a fault is injected first (an error, then a
// cancelled context): the rollback brings back QEMU, the owned links and
// the tap's VLANs exactly. Then the plan is applied and read back (the
// tap's access VLAN as TapPlug and Interfaces report it, and `bridge vlan
// show`), and planned again as a no-op. The host's kernel has no VLAN
// filtering, so this runs in a guest with Debian's kernel
// (internal/kernelvm); TestIntegrationTapFailedMoves checks the refusal
// on a kernel without it.
func TestIntegrationTapVLAN(t *testing.T) {
	ns := newTestNetnsNamed(t, "nph4-")
	if !filterVLANs(t, ns) {
		t.Log("NOT TESTED HERE: VLAN changes through plans (the kernel's bridge cannot filter VLANs); internal/kernelvm runs this test in a guest with Debian's kernel")
		return
	}
	ctx := ctxT(t)
	sc := scenario{root: true, boot: []string{tBridge}, cfg: nicplug.Config{CarrierHold: nicplug.NoCarrierHold}}
	r := sc.setup(t, ctx, ns)
	if err := r.vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	tap := backend.TapName(r.name, "net0")
	vlans := func() string {
		out, err := exec.Command("bridge", "-n", ns.name, "vlan", "show", "dev", tap).CombinedOutput()
		if err != nil {
			t.Fatalf("bridge vlan show: %v: %s", err, out)
		}
		return strings.Join(strings.Fields(string(out)), " ")
	}
	for _, step := range []struct {
		update string
		vlan   int
		pvid   string // `bridge vlan show` of the tap, fields joined
	}{
		{tBridgeV10, 10, "port vlan-id " + tap + " 10 PVID Egress Untagged"},
		{tBridgeV20, 20, "port vlan-id " + tap + " 20 PVID Egress Untagged"},
		{tBridge, 0, "port vlan-id " + tap + " 1 PVID Egress Untagged"},
	} {
		before, beforeVLANs := r.snapshot(ctx), vlans()
		first, err := r.vm.PlanUpdate(ctx, []byte(step.update))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("VLAN %d plan:\n%s", step.vlan, first)
		var ops []string
		for _, s := range first.Steps {
			if s.Do.Type == nicplug.ActionHost {
				ops = append(ops, string(s.Do.Op))
			}
		}
		if got := strings.Join(ops, ","); !strings.Contains(got, string(nicplug.OpSetVLAN)) || strings.Contains(got, string(nicplug.OpSetMaster)) {
			t.Errorf("VLAN %d: host steps %s, want a set-vlan and no set-master", step.vlan, got)
		}
		faultEveryStep(t, ctx, r, step.update, first, fmt.Sprintf("VLAN %d", step.vlan), func(what string) {
			r.requireSame(ctx, what, before)
			if got := vlans(); got != beforeVLANs {
				t.Errorf("%s: tap VLANs after rollback %q, want %q", what, got, beforeVLANs)
			}
		})
		if err := r.vm.Apply(ctx, first); err != nil {
			t.Fatalf("VLAN %d: %v", step.vlan, err)
		}
		verify(t, ctx, r) // TapPlug and Interfaces report the VLAN
		if got := vlans(); got != step.pvid {
			t.Errorf("VLAN %d: bridge vlan show %q, want %q", step.vlan, got, step.pvid)
		}
		again, err := r.vm.PlanUpdate(ctx, []byte(step.update))
		if err != nil || again.Kind != nicplug.KindNoop {
			t.Errorf("VLAN %d: the same update again: %v, %v", step.vlan, again, err)
		}
		t.Logf("VLAN %d: applied after %d rolled-back faults; %s", step.vlan, 2*len(first.Steps), vlans())
	}
}

// TestIntegrationHubVLAN is TestIntegrationTapVLAN on the hub datapath:
// each VLAN change is a switch to a new bridge tap created with that
// access VLAN (none → 10 → 20 → none), with a fault injected at every
// step first and rolled back; once applied, the one bridge tap left is
// an access port of exactly that VLAN, and LiveDomain (no domain XML)
// reads that VLAN back.
func TestIntegrationHubVLAN(t *testing.T) {
	ns := newTestNetnsNamed(t, "nph4-")
	if !filterVLANs(t, ns) {
		t.Log("NOT TESTED HERE: VLAN changes through plans (the kernel's bridge cannot filter VLANs); internal/kernelvm runs this test in a guest with Debian's kernel")
		return
	}
	ctx := ctxT(t)
	sc := scenario{root: true, boot: []string{xBridge}, cfg: nicplug.Config{CarrierHold: nicplug.NoCarrierHold}}
	r := sc.setup(t, ctx, ns)
	if err := r.vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		update string
		vlan   string // the bridge tap's VLANs, `bridge vlan show` fields
	}{
		{xBridgeV10, "10 PVID Egress Untagged"},
		{xBridgeV20, "20 PVID Egress Untagged"},
		{xBridge, "1 PVID Egress Untagged"},
	} {
		before := r.snapshot(ctx)
		first, err := r.vm.PlanUpdate(ctx, []byte(step.update))
		if err != nil {
			t.Fatal(err)
		}
		faultEveryStep(t, ctx, r, step.update, first, step.vlan, func(what string) { r.requireSame(ctx, what, before) })
		if err := r.vm.Apply(ctx, first); err != nil {
			t.Fatalf("%s: %v\n%s", step.vlan, err, first)
		}
		verify(t, ctx, r)
		links, err := r.host.ListOwned(ctx, r.name)
		if err != nil || len(links) != 1 || links[0].Kind != "tap" {
			t.Fatalf("%s: owned links %+v, %v; want one bridge tap", step.vlan, links, err)
		}
		out, err := exec.Command("bridge", "-n", ns.name, "vlan", "show", "dev", links[0].Name).CombinedOutput()
		if got, want := strings.Join(strings.Fields(string(out)), " "), "port vlan-id "+links[0].Name+" "+step.vlan; err != nil || got != want {
			t.Errorf("%s: bridge vlan show %q (%v), want %q", step.vlan, got, err, want)
		}
		// Without the domain XML, the bridge tap's VLAN is read back.
		live, err := nicplug.LiveDomain(ctx, r.mon, r.host, r.name)
		if err != nil {
			t.Fatal(err)
		}
		upd, err := domain.ParseInterface([]byte(step.update), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := live.NICs[0].Backend(); got != upd.Backend() {
			t.Errorf("%s: LiveDomain backend %s, want %s", step.vlan, got, upd.Backend())
		}
		t.Logf("%s: applied a %d-step %s after %d rolled-back faults", step.vlan, len(first.Steps), first.Kind, 2*len(first.Steps))
	}
}

// faultEveryStep injects an error and a cancellation at every step of
// first, the plan of update, each time planning update again (the plan
// must not change after a rollback) and calling check with a description
// of the fault once the rollback is done.
func faultEveryStep(t *testing.T, ctx context.Context, r *rig, update string, first *nicplug.Plan, name string, check func(what string)) {
	t.Helper()
	for k := 1; k <= len(first.Steps); k++ {
		for _, mode := range []string{faultError, faultCancel} {
			p, err := r.vm.PlanUpdate(ctx, []byte(update))
			if err != nil || p.String() != first.String() {
				t.Fatalf("after rollback the plan changed (%v):\n%s\nwas\n%s", err, p, first)
			}
			actx, cancel := context.WithCancel(ctx)
			r.in.arm(k, mode, cancel)
			err = r.vm.Apply(actx, p)
			r.in.disarm()
			cancel()
			what := fmt.Sprintf("%s: %s at step %d (%s)", name, mode, k, p.Steps[k-1].Do)
			var se *nicplug.StepError
			if !errors.As(err, &se) || se.UndoErr != nil {
				t.Fatalf("%s: Apply = %v, want a *StepError with a clean rollback", what, err)
			}
			check(what)
		}
	}
}
