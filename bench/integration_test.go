package bench

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/guest"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationBenchSmoke runs every part with tiny counts (slaac on the
// busybox guest only): the table
// must have every row filled, and this process's fds and goroutines, the
// QEMUs, namespaces and links must come back to what they were. It asserts
// nothing about speed.
func TestIntegrationBenchSmoke(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	linksBefore := hostLinks(t)
	base := readProcStats()
	var progress strings.Builder
	// slaac on the busybox guest only: the distribution guests would add
	// two boots (~1 min), and e2e's TestIntegrationDistroMoves asserts
	// their IPv6 after moves.
	r, err := Run(ctx, &Options{PlanIters: 10, SlaacTrials: 1, SlaacStacks: []guest.Stack{StackBusybox}, QMPIters: 20, ApplyIters: 2, ScaleVMs: 3, GuestIters: 1, ThroughputMiB: 1,
		StackTrials: 1, DatapathCycles: 1, DatapathTrials: 1, DatapathMiB: 1, StackHolds: map[guest.Stack][]time.Duration{
			guest.StackNetworkd: {}, guest.StackNetworkManager: {}},
		Progress: &progress})
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}
	var table strings.Builder
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	for _, want := range []struct{ part, name string }{
		{"1 plan", "Planner.Update switch user→macvtap"},
		{"2 qmp", "query-status round trip"},
		{"3 apply", "plug none→user"},
		{"3 apply", "unplug user→none"},
		{"3 apply", "switch user→macvtap"},
		{"3 apply", "switch macvtap→user"},
		{"3 apply", "switch macvtap→macvtap"},
		{"3 apply", "link-down window switch user→macvtap"},
		{"5 scale", "3 concurrent switches user→macvtap"},
		{"5 scale", "manager fds / goroutines"},
		{"4 guest", "nicplug plug none→user"},
		{"4 guest", "move: nicplug switch user↔tap"},
		{"4 guest", "hot-plug: device_add"},
		{"6 throughput", "guest→host TCP"},
		{"7 stacks", "networkd: plug none→user"},
		{"7 stacks", "networkd: move user→direct, hold adaptive ≤8s (default)"},
		{"7 stacks", "networkd: move direct→user, hold adaptive ≤8s (default)"},
		{"7 stacks", "networkmanager: plug none→user"},
		{"7 stacks", "networkmanager: move user→direct, hold adaptive ≤8s (default)"},
		{"7 stacks", "networkmanager: move direct→user, hold adaptive ≤8s (default)"},
		{"8 datapath", "move bridge→direct: apply"},
		{"8 datapath", "move direct→bridge: link-down window"},
		{"8 datapath", "move bridge→bridge: steps = host ops + QMP commands"},
		{"8 datapath", "move bridge→bridge: RTNL notifications"},
		{"8 datapath", "guest→host TCP"},
		{"8 datapath", "host→guest TCP"},
		{"8 datapath", "guest virtio-net features"},
		{"9 slaac", "busybox: plug none→user: IPv6 address in fec0::/64"},
		{"9 slaac", "busybox: move user→direct, hold fixed 300ms: IPv6"},
		{"9 slaac", "busybox: move direct→user, hold fixed 300ms: IPv6"},
	} {
		row, ok := r.Find(want.part, want.name)
		if !ok {
			t.Errorf("table has no row %q in part %q", want.name, want.part)
			continue
		}
		if row.N == 0 || (row.Value == "" && row.Baseline == "") {
			t.Errorf("row %q is empty: %+v", want.name, row)
		}
	}
	// With the default hold, every move ends on the new network.
	for _, name := range []string{"networkd: move user→direct, hold adaptive ≤8s (default)", "networkd: move direct→user, hold adaptive ≤8s (default)",
		"networkmanager: move user→direct, hold adaptive ≤8s (default)", "networkmanager: move direct→user, hold adaptive ≤8s (default)",
		"networkd: move user→direct, hold adaptive ≤8s (default), 2s after the ping", "networkd: move direct→user, hold adaptive ≤8s (default), 2s after the ping",
		"networkmanager: move user→direct, hold adaptive ≤8s (default), 2s after the ping",
		"networkmanager: move direct→user, hold adaptive ≤8s (default), 2s after the ping"} {
		row, ok := r.Find("7 stacks", name)
		if !ok {
			t.Errorf("table has no row %q in part 7", name)
		} else if !strings.HasPrefix(row.Value, "moved 1/1") {
			t.Errorf("%s: %s", name, row.Value)
		}
	}
	if len(r.Leaks) > 0 {
		t.Errorf("leaks reported: %v", r.Leaks)
	}
	if _, leaks := settle("after Run", base); len(leaks) > 0 {
		t.Errorf("process resources not back to baseline: %v", leaks)
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), "npbench-") || strings.Contains(string(out), "nph3dp-") {
		t.Errorf("network namespace left behind:\n%s", out)
	}
	if diff := strings.Join(newLinks(linksBefore, hostLinks(t)), ", "); diff != "" {
		t.Errorf("host links left behind: %s", diff)
	}
	if ents, _ := os.ReadDir(os.TempDir()); ents != nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "nicplug-bench-") {
				t.Errorf("temporary directory left behind: %s", e.Name())
			}
		}
	}
}

func hostLinks(t *testing.T) []string {
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			names = append(names, strings.TrimSuffix(strings.Split(f[1], "@")[0], ":"))
		}
	}
	return names
}

// newLinks returns the bench's links in after that are not in before.
func newLinks(before, after []string) []string {
	seen := map[string]bool{}
	for _, n := range before {
		seen[n] = true
	}
	var out []string
	for _, n := range after {
		if !seen[n] && strings.HasPrefix(n, "npbt") {
			out = append(out, n)
		}
	}
	return out
}
