package netif

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestIntegrationRedirectQdiscMark: the redirect of a foreign interface
// that had no ingress qdisc carries the mark that AddRedirect added one
// (classid 6e70:7164, read back from the host, so any later process
// knows), keeps it when replaced, and DelRedirect then removes the qdisc:
// the interface is as it was. A qdisc it had before stays (see
// TestIntegrationRedirectForeign), and so does nicplug's once the user
// put a filter of their own on it.
func TestIntegrationRedirectQdiscMark(t *testing.T) {
	n := newNph1Netns(t)
	ctx := ctxT(t)
	n.veth(t, "nph1u0", "nph1u1")
	owner := Owner{"vm", "net0"}
	var taps [2]*Link
	for i, name := range []string{"nph1tap", "nph1tap2"} {
		tap, err := CreateFixedTap(ctx, &FixedTapConfig{Name: name, UID: -1, GID: -1, Owner: owner, Netns: n.Path})
		if err != nil {
			t.Fatal(err)
		}
		defer tap.Delete(ctx)
		taps[i] = tap
	}
	before := n.state(t)
	if strings.Contains(n.tc(t, "qdisc", "show", "dev", "nph1u0"), "ingress") {
		t.Fatal("nph1u0 has an ingress qdisc already")
	}
	if err := AddRedirect(ctx, n.Path, "nph1u0", "nph1tap"); err != nil {
		t.Fatal(err)
	}
	marked := func(what string) {
		t.Helper()
		if f := n.tc(t, "filter", "show", "dev", "nph1u0", "ingress"); !strings.Contains(f, "flowid 6e70:7164") {
			t.Errorf("%s: the redirect carries no mark that nicplug added the qdisc:\n%s", what, f)
		}
	}
	marked("added")
	if err := AddRedirect(ctx, n.Path, "nph1u0", "nph1tap2"); err != nil {
		t.Fatal(err)
	}
	marked("replaced")
	if p, err := ReadTapPlug(ctx, n.Path, "nph1tap"); err != nil || p.Redirect != "" {
		t.Errorf("tap's plug after the foreign side moved: %+v, %v", p, err)
	}
	if err := DelRedirect(ctx, n.Path, "nph1u0"); err != nil {
		t.Fatal(err)
	}
	n.checkState(t, before, "add, replace and delete of a redirect on an interface without qdisc")

	// The user's filter on nicplug's qdisc: the qdisc stays with it.
	if err := AddRedirect(ctx, n.Path, "nph1u0", "nph1tap"); err != nil {
		t.Fatal(err)
	}
	n.tc(t, "filter", "add", "dev", "nph1u0", "ingress", "pref", "10", "protocol", "ip", "u32", "match", "ip", "dst", "192.0.2.1/32", "action", "mirred", "egress", "mirror", "dev", "nph1u1")
	if err := DelRedirect(ctx, n.Path, "nph1u0"); err != nil {
		t.Fatal(err)
	}
	if f := n.tc(t, "filter", "show", "dev", "nph1u0", "ingress"); !strings.Contains(f, "pref 10 ") || strings.Contains(f, "6e70:7164") {
		t.Errorf("after DelRedirect the ingress holds, want the user's filter alone:\n%s", f)
	}
	n.tc(t, "qdisc", "del", "dev", "nph1u0", "ingress")
	n.checkState(t, before, "the user's filter on nicplug's qdisc")
}

// TestIntegrationCheckRedirectTarget: an interface that can be an
// ethernet backend passes; a missing one, the tap itself, a device of
// nicplug's and one another tap's redirect pair uses are refused with a
// one-line error, and nothing changes.
func TestIntegrationCheckRedirectTarget(t *testing.T) {
	n := newNph1Netns(t)
	ctx := ctxT(t)
	n.veth(t, "nph1u0", "nph1u1")
	n.veth(t, "nph1w0", "nph1w1")
	owner := Owner{"vm", "net0"}
	for _, name := range []string{"nph1tap", "nph1tap2"} {
		tap, err := CreateFixedTap(ctx, &FixedTapConfig{Name: name, UID: -1, GID: -1, Owner: owner, Netns: n.Path})
		if err != nil {
			t.Fatal(err)
		}
		defer tap.Delete(ctx)
	}
	if err := AddRedirect(ctx, n.Path, "nph1w0", "nph1tap2"); err != nil {
		t.Fatal(err)
	}
	defer DelRedirect(ctx, n.Path, "nph1w0")
	before := n.state(t)
	if err := CheckRedirectTarget(ctx, n.Path, "nph1u0", "nph1tap"); err != nil {
		t.Errorf("a free interface: %v", err)
	}
	// The tap a redirect already points at (a half-done move) passes.
	if err := CheckRedirectTarget(ctx, n.Path, "nph1w0", "nph1tap2"); err != nil {
		t.Errorf("the interface redirected to the tap: %v", err)
	}
	for _, tc := range []struct {
		dev    string
		kind   error
		substr string
	}{
		{"nph1gone", os.ErrNotExist, `device "nph1gone" not found in network namespace /run/netns/nph1-`},
		{"nph1tap", os.ErrInvalid, "to itself"},
		{"nph1tap2", os.ErrInvalid, `"nph1tap2" in network namespace /run/netns/nph1-`},
		{"nph1w0", unix.EBUSY, `already redirected to "nph1tap2" by nicplug: it is another NIC's backend`},
	} {
		err := CheckRedirectTarget(ctx, n.Path, tc.dev, "nph1tap")
		if err == nil || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.substr) || !strings.HasPrefix(err.Error(), "netif: check redirect target "+tc.dev+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("CheckRedirectTarget %s: %v, want a one-line error (%v) containing %q", tc.dev, err, tc.kind, tc.substr)
		}
	}
	n.checkState(t, before, "checks")
}
