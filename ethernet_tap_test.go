package nicplug_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
)

// tc runs tc in the namespace and returns its output.
func (n *testNetns) tc(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("tc", append([]string{"-n", n.name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tc -n %s %s: %v: %s", n.name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// qdiscs lists the namespace's qdiscs, one line each, sorted.
func (n *testNetns) qdiscs(t testing.TB) []string {
	t.Helper()
	out, err := exec.Command("tc", "-n", n.name, "qdisc", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("tc -n %s qdisc show: %v: %s", n.name, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	slices.Sort(lines)
	return lines
}

// TestIntegrationTapEthernetQdisc: an ethernet backend's interface (tap7)
// is put back as it was once the NIC leaves it. The ingress qdisc nicplug
// added for the redirect goes with it, whichever process moves the NIC
// away (each move here is planned by a fresh VM from the host alone, as
// after a crash) or deletes the VM's links (`nicplug cleanup`); an
// ingress qdisc the interface had before stays, with the user's filter,
// and so does nicplug's qdisc once the user put a filter of their own on
// it.
func TestIntegrationTapEthernetQdisc(t *testing.T) {
	ns := newTestNetns(t)
	ctx := ctxT(t)
	sc := scenario{root: true, boot: []string{tBridge}, cfg: nicplug.Config{CarrierHold: nicplug.NoCarrierHold}}
	r := sc.setup(t, ctx, ns)
	if err := r.vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	move := func(what, update string) {
		t.Helper()
		if err := r.freshVM(ctx).UpdateDevice(ctx, []byte(update)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	ingress := func() bool {
		return strings.Contains(ns.tc(t, "qdisc", "show", "dev", "tap7"), "qdisc ingress ffff:")
	}
	same := func(what string, want []string) {
		t.Helper()
		if got := ns.qdiscs(t); !slices.Equal(got, want) {
			t.Errorf("%s: qdiscs\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	before := ns.qdiscs(t)
	if ingress() {
		t.Fatal("tap7 has an ingress qdisc before the test")
	}
	move("plug ethernet", tEthernet)
	if !ingress() {
		t.Fatal("no ingress qdisc on tap7 with the NIC on it")
	}
	move("back to a bridge", tBridge)
	same("ethernet → bridge", before)
	move("plug ethernet again", tEthernet)
	move("unplug", tNone)
	same("ethernet → none", before)

	// The user's own qdisc and filter stay.
	ns.tc(t, "qdisc", "add", "dev", "tap7", "ingress")
	ns.tc(t, "filter", "add", "dev", "tap7", "ingress", "pref", "10", "protocol", "ip", "u32", "match", "ip", "dst", "192.0.2.1/32", "action", "mirred", "egress", "mirror", "dev", "veth3")
	userQdiscs, userFilters := ns.qdiscs(t), ns.tc(t, "filter", "show", "dev", "tap7", "ingress")
	move("plug ethernet with the user's qdisc", tEthernet)
	move("unplug from the user's qdisc", tNone)
	same("user's qdisc", userQdiscs)
	if got := ns.tc(t, "filter", "show", "dev", "tap7", "ingress"); got != userFilters {
		t.Errorf("the user's filters changed:\n%s\n->\n%s", userFilters, got)
	}
	ns.tc(t, "qdisc", "del", "dev", "tap7", "ingress")
	same("user's qdisc deleted", before)

	// A filter of the user's on nicplug's qdisc makes it the user's.
	move("plug ethernet", tEthernet)
	ns.tc(t, "filter", "add", "dev", "tap7", "ingress", "pref", "10", "protocol", "ip", "u32", "match", "ip", "dst", "192.0.2.1/32", "action", "mirred", "egress", "mirror", "dev", "veth3")
	move("unplug from a qdisc the user filters on", tNone)
	if !ingress() || !strings.Contains(ns.tc(t, "filter", "show", "dev", "tap7", "ingress"), "pref 10 ") {
		t.Error("the user's filter or the qdisc it sits on went with nicplug's redirect")
	}
	ns.tc(t, "qdisc", "del", "dev", "tap7", "ingress")

	// nicplug cleanup: the VM's links go, and the qdisc nicplug added.
	move("plug ethernet before cleanup", tEthernet)
	r.q.Kill()
	if _, err := nicplug.DeleteHostLinks(ctx, backend.NewNetifHost(ns.path), r.name); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range before {
		if !strings.Contains(l, backend.TapName(r.name, "net0")) {
			want = append(want, l)
		}
	}
	same("cleanup", want)
}
