package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/nicplug/nicplug/qmp"
)

// cliVM is a guest-less QEMU started with the arguments of
// `nicplug qemu-args`, and a copy of the domain file the CLI may rewrite.
type cliVM struct {
	q      *testenv.QEMU
	domain string
}

func startCLIVM(t *testing.T) *cliVM {
	t.Helper()
	testenv.RequireQEMU(t)
	code, stdout, stderr := runCmd(t, "qemu-args", "testdata/domain.xml")
	if code != 0 {
		t.Fatalf("qemu-args: exit %d: %s", code, stderr)
	}
	args := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	q := testenv.StartQEMU(t, args...)
	dom := filepath.Join(t.TempDir(), "domain.xml")
	b, err := os.ReadFile("testdata/domain.xml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dom, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return &cliVM{q: q, domain: dom}
}

// monitor runs f on a monitor connection of its own: QEMU serves one QMP
// client per socket at a time, so the test cannot keep one open while the
// CLI runs.
func (v *cliVM) monitor(t *testing.T, f func(ctx context.Context, c *qmp.Client) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := qmp.Dial(ctx, v.q.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := f(ctx, c); err != nil {
		t.Fatal(err)
	}
}

// infoNetwork is QEMU's own view of its net clients, read through a
// separate monitor.
func (v *cliVM) infoNetwork(t *testing.T) string {
	t.Helper()
	var s string
	v.monitor(t, func(ctx context.Context, c *qmp.Client) (err error) {
		s, err = c.HMP(ctx, "info network")
		return err
	})
	return s
}

// show runs show --json and decodes it.
func (v *cliVM) show(t *testing.T, withDomain bool) showOutput {
	t.Helper()
	args := []string{"show", "--qmp", v.q.Socket, "--json"}
	if withDomain {
		args = append(args, "--domain", v.domain)
	}
	code, stdout, stderr := runCmd(t, args...)
	if code != 0 {
		t.Fatalf("show: exit %d: %s", code, stderr)
	}
	var out showOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("show --json: %v\n%s", err, stdout)
	}
	return out
}

// nic returns the NIC dev of a show output.
func nic(t *testing.T, out showOutput, dev string) nicRow {
	t.Helper()
	for _, r := range out.NICs {
		if r.Device == dev {
			return r
		}
	}
	t.Fatalf("show has no NIC %s: %+v", dev, out)
	return nicRow{}
}

// mustRun runs the CLI and fails unless it exits with code.
func mustRun(t *testing.T, code int, args ...string) (stdout, stderr string) {
	t.Helper()
	got, stdout, stderr := runCmd(t, args...)
	if got != code {
		t.Fatalf("nicplug %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, stdout, stderr)
	}
	if code != 0 {
		checkOneLine(t, stderr)
	}
	return stdout, stderr
}

// TestIntegrationCLI drives a real QEMU through the CLI: start, plan,
// plug, unplug, a refused change and a failed apply.
func TestIntegrationCLI(t *testing.T) {
	v := startCLIVM(t)
	sock, dom := v.q.Socket, v.domain

	// Before start: both NICs wired to their hubs, nothing attached.
	before := v.show(t, false)
	if before.Running || len(before.NICs) != 2 {
		t.Fatalf("before start: %+v", before)
	}
	for _, r := range before.NICs {
		if r.Backend != "none" || r.Link != "unknown" {
			t.Errorf("before start: %+v", r)
		}
	}

	out, _ := mustRun(t, 0, "start", "--qmp", sock, dom)
	if !strings.HasPrefix(out, "plan start cli: ") {
		t.Errorf("start printed:\n%s", out)
	}
	st := v.show(t, true)
	if !st.Running {
		t.Error("VM not running after start")
	}
	want := nicRow{Device: "net0", MAC: "52:54:00:0f:7d:ad", Hub: 0, Link: "unknown", LinkConfigured: "down", Backend: "none", Datapath: "hub"}
	if diff := cmp.Diff(want, nic(t, st, "net0"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("net0 after start (-want +got):\n%s", diff)
	}
	if lan := nic(t, st, "ua-lan"); lan.Link != "unknown" || lan.LinkConfigured != "up" || lan.Backend != "user" || lan.Driver != "user" || lan.Hub != 1 {
		t.Errorf("ua-lan after start: %+v", lan)
	}

	t.Run("plan json and text", func(t *testing.T) {
		info := v.infoNetwork(t)
		text, _ := mustRun(t, 0, "plan", "--qmp", sock, "--domain", dom, "testdata/iface-user.xml")
		js, _ := mustRun(t, 0, "plan", "--qmp", sock, "--domain", dom, "testdata/iface-user.xml", "--json")
		p := checkPlanPair(t, text, js)
		if p.Kind != nicplug.KindPlug || p.Device != "net0" || p.VM != "cli" {
			t.Errorf("plan is %s %s %s, want plug cli net0", p.Kind, p.VM, p.Device)
		}
		// The live plan of a fresh NIC is the pure one.
		pure, _ := mustRun(t, 0, "plan", "--from", "testdata/domain.xml", "testdata/iface-user.xml")
		if diff := cmp.Diff(pure, text); diff != "" {
			t.Errorf("live plan differs from plan --from (-from +live):\n%s", diff)
		}
		if diff := cmp.Diff(info, v.infoNetwork(t)); diff != "" {
			t.Errorf("plan changed QEMU:\n%s", diff)
		}
	})

	t.Run("plug user", func(t *testing.T) {
		out, _ := mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, "testdata/iface-user.xml")
		if !strings.HasPrefix(out, "plan plug cli net0: 3 steps") {
			t.Errorf("update printed:\n%s", out)
		}
		r := nic(t, v.show(t, true), "net0")
		if r.Link != "unknown" || r.LinkConfigured != "up" || r.Backend != "user" || r.Driver != "user" || r.Netdev == "" {
			t.Errorf("net0 after plug: %+v", r)
		}
		if !strings.Contains(v.infoNetwork(t), r.Netdev+": index=0,type=user") {
			t.Errorf("QEMU has no %s:\n%s", r.Netdev, v.infoNetwork(t))
		}
		// The domain file was saved with the update.
		b, err := os.ReadFile(dom)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `<interface type="user">`+"\n      <mac address=\"52:54:00:0f:7d:ad\">") {
			t.Errorf("domain not saved with net0 as user:\n%s", b)
		}
		// The same update again is a noop.
		out, _ = mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, "testdata/iface-user.xml")
		if out != "plan noop cli net0: no steps\n" {
			t.Errorf("second update printed:\n%s", out)
		}
	})

	t.Run("refused model change", func(t *testing.T) {
		info, saved := v.infoNetwork(t), readString(t, dom)
		_, stderr := mustRun(t, 2, "update", "--qmp", sock, "--domain", dom, "testdata/iface-model-e1000.xml")
		if want := "nicplug: update: testdata/iface-model-e1000.xml: domain: cannot modify network device model from virtio to e1000\n"; stderr != want {
			t.Errorf("stderr %q, want %q", stderr, want)
		}
		if diff := cmp.Diff(info, v.infoNetwork(t)); diff != "" {
			t.Errorf("refused update changed QEMU:\n%s", diff)
		}
		if readString(t, dom) != saved {
			t.Error("refused update rewrote the domain file")
		}
	})

	t.Run("unplug", func(t *testing.T) {
		out, _ := mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, "testdata/iface-none.xml")
		if !strings.HasPrefix(out, "plan unplug cli net0: ") || !strings.Contains(out, `set_link {"name":"net0","up":false}`) {
			t.Errorf("update printed:\n%s", out)
		}
		want := nicRow{Device: "net0", MAC: "52:54:00:0f:7d:ad", Hub: 0, Link: "unknown", LinkConfigured: "down", Backend: "none", Datapath: "hub"}
		if diff := cmp.Diff(want, nic(t, v.show(t, true), "net0"), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("net0 after unplug (-want +got):\n%s", diff)
		}
		if strings.Contains(v.infoNetwork(t), "np.net0.b") {
			t.Errorf("backend left in QEMU:\n%s", v.infoNetwork(t))
		}
	})

	t.Run("apply fails on id collision and rolls back", func(t *testing.T) {
		js, _ := mustRun(t, 0, "plan", "--qmp", sock, "--domain", dom, "testdata/iface-user.xml", "--json")
		var p nicplug.Plan
		if err := json.Unmarshal([]byte(js), &p); err != nil {
			t.Fatal(err)
		}
		// Take the id of the hub port the plan adds, and make it exist
		// (as a netdev the read-back ignores) so that step fails.
		var port string
		for _, s := range p.Steps {
			var a struct{ Type, ID string }
			json.Unmarshal(s.Do.Args, &a)
			if s.Phase == "attach" && a.Type == "hubport" {
				port = a.ID
			}
		}
		if port == "" {
			t.Fatalf("no hubport in plan:\n%s", js)
		}
		v.monitor(t, func(ctx context.Context, c *qmp.Client) error {
			return c.NetdevAdd(ctx, map[string]any{"type": "user", "id": port})
		})
		defer v.monitor(t, func(ctx context.Context, c *qmp.Client) error { return c.NetdevDel(ctx, port) })
		info, saved, shown := v.infoNetwork(t), readString(t, dom), v.show(t, true)

		_, stderr := mustRun(t, 1, "update", "--qmp", sock, "--domain", dom, "testdata/iface-user.xml")
		if !strings.Contains(stderr, "nicplug: update: step ") || !strings.Contains(stderr, "Duplicate ID '"+port+"'") {
			t.Errorf("stderr: %q", stderr)
		}
		if diff := cmp.Diff(info, v.infoNetwork(t)); diff != "" {
			t.Errorf("failed update changed QEMU:\n%s", diff)
		}
		if diff := cmp.Diff(shown, v.show(t, true)); diff != "" {
			t.Errorf("failed update changed the wiring:\n%s", diff)
		}
		if readString(t, dom) != saved {
			t.Error("failed update rewrote the domain file")
		}
	})

	t.Run("apply fails on missing macvtap parent", func(t *testing.T) {
		testenv.RequireRoot(t)
		info, shown := v.infoNetwork(t), v.show(t, true)
		_, stderr := mustRun(t, 1, "update", "--qmp", sock, "--domain", dom, "testdata/iface-direct.xml")
		if !strings.Contains(stderr, "nicplug: update: step 1 ") || !strings.Contains(stderr, "npnoparent0") {
			t.Errorf("stderr: %q", stderr)
		}
		if diff := cmp.Diff(info, v.infoNetwork(t)); diff != "" {
			t.Errorf("failed update changed QEMU:\n%s", diff)
		}
		if diff := cmp.Diff(shown, v.show(t, true)); diff != "" {
			t.Errorf("failed update changed the wiring:\n%s", diff)
		}
	})

	t.Run("leftover shown and cleaned up", func(t *testing.T) {
		// A standalone backend of net0, as a crash between prepare and
		// attach leaves it.
		id := backend.BackendID("net0", 7, domain.Backend{Type: domain.TypeUser}).String()
		v.monitor(t, func(ctx context.Context, c *qmp.Client) error {
			return c.NetdevAdd(ctx, map[string]any{"type": "user", "id": id})
		})
		for _, withDomain := range []bool{true, false} {
			r := nic(t, v.show(t, withDomain), "net0")
			if r.Backend != "none" || len(r.Leftovers) != 1 || r.Leftovers[0] != id {
				t.Errorf("show (domain %v): %+v, want leftover %s", withDomain, r, id)
			}
		}
		out, _ := mustRun(t, 0, "show", "--qmp", sock)
		if !strings.Contains(out, "net0: leftovers of an interrupted plan (the next update removes them): "+id) {
			t.Errorf("show printed:\n%s", out)
		}
		out, _ = mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, "testdata/iface-none.xml")
		if want := fmt.Sprintf("  1  cleanup  qmp  netdev_del {\"id\":%q}\n", id); !strings.HasPrefix(out, "plan cleanup cli net0: ") || !strings.Contains(out, want) {
			t.Errorf("update printed:\n%s\nwant a cleanup plan with:\n%s", out, want)
		}
		if r := nic(t, v.show(t, true), "net0"); len(r.Leftovers) != 0 {
			t.Errorf("leftovers after cleanup: %v", r.Leftovers)
		}
	})

	t.Run("timeout on a stopped QEMU", func(t *testing.T) {
		if err := v.q.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer v.q.Cmd.Process.Signal(syscall.SIGCONT)
		_, stderr := mustRun(t, 1, "show", "--qmp", sock, "--timeout", "300ms")
		if !strings.Contains(stderr, "context deadline exceeded") {
			t.Errorf("stderr: %q", stderr)
		}
	})

	t.Run("link down then show text", func(t *testing.T) {
		mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, "testdata/iface-lan-down.xml")
		out, _ := mustRun(t, 0, "show", "--qmp", sock, "--domain", dom)
		want := []string{
			"vm cli: running, 2 NICs managed by nicplug",
			"DEVICE  MAC                HUB  LINK                    BACKEND  DRIVER  NETDEV",
			"net0    52:54:00:0f:7d:ad  0    unknown (domain: down)  none     -       -",
		}
		lines := strings.Split(out, "\n")
		if len(lines) < 4 {
			t.Fatalf("show printed:\n%s", out)
		}
		if diff := cmp.Diff(want, lines[:3]); diff != "" {
			t.Errorf("show (-want +got):\n%s", diff)
		}
		if f := strings.Fields(lines[3]); len(f) != 9 || f[0] != "ua-lan" || f[3] != "unknown" || f[5] != "down)" || f[6] != "user" {
			t.Errorf("ua-lan line: %q", lines[3])
		}
	})
}

// TestIntegrationStartTwice checks that start on a running VM only sets
// links again (no cont, no second backend) and that a stale domain file is
// reported.
func TestIntegrationStartTwice(t *testing.T) {
	v := startCLIVM(t)
	mustRun(t, 0, "start", "--qmp", v.q.Socket, v.domain)
	info := v.infoNetwork(t)
	out, _ := mustRun(t, 0, "plan", "--start", "--qmp", v.q.Socket, "--domain", v.domain)
	if strings.Contains(out, "cont") || strings.Contains(out, "netdev_add") {
		t.Errorf("start plan of a running VM:\n%s", out)
	}
	mustRun(t, 0, "update", "--save=false", "--qmp", v.q.Socket, "--domain", v.domain, "testdata/iface-user.xml")
	_, stderr := mustRun(t, 0, "plan", "--qmp", v.q.Socket, "--domain", v.domain, "testdata/iface-user.xml")
	if !strings.Contains(stderr, "nicplug: warning: "+v.domain+" configures net0 with none but QEMU has backend np.net0.") {
		t.Errorf("no stale warning: %q", stderr)
	}
	if info == v.infoNetwork(t) {
		t.Error("update --save=false did not plug")
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIntegrationCLIWithoutDomain drives plan, update and show without
// --domain: the domain is rebuilt from QEMU, the VM named by --name (this
// QEMU has no -name).
func TestIntegrationCLIWithoutDomain(t *testing.T) {
	v := startCLIVM(t)
	sock := v.q.Socket
	mustRun(t, 0, "start", "--qmp", sock, v.domain)

	_, stderr := mustRun(t, 2, "update", "--qmp", sock, "testdata/iface-user.xml")
	if !strings.Contains(stderr, "QEMU was started without -name") || !strings.Contains(stderr, "--name") {
		t.Errorf("update without a name: %q", stderr)
	}

	info := v.infoNetwork(t)
	_, stderr = mustRun(t, 2, "update", "--qmp", sock, "--name", "cli", "testdata/iface-model-e1000.xml")
	if want := "nicplug: update: testdata/iface-model-e1000.xml: domain: cannot modify network device model from virtio to e1000\n"; stderr != want {
		t.Errorf("refused model change: stderr %q, want %q", stderr, want)
	}
	if diff := cmp.Diff(info, v.infoNetwork(t)); diff != "" {
		t.Errorf("refused update changed QEMU:\n%s", diff)
	}

	js, _ := mustRun(t, 0, "plan", "--qmp", sock, "--name", "cli", "testdata/iface-user.xml", "--json")
	var p nicplug.Plan
	if err := json.Unmarshal([]byte(js), &p); err != nil {
		t.Fatal(err)
	}
	if p.Kind != nicplug.KindPlug || p.VM != "cli" || p.Device != "net0" || len(p.Steps) != 3 {
		t.Errorf("plan without domain: %s %s %s, %d steps, want plug cli net0, 3 steps", p.Kind, p.VM, p.Device, len(p.Steps))
	}
	out, _ := mustRun(t, 0, "update", "--qmp", sock, "--name", "cli", "testdata/iface-user.xml")
	if !strings.HasPrefix(out, "plan plug cli net0: 3 steps") {
		t.Errorf("update printed:\n%s", out)
	}
	// The domain file is not touched without --domain.
	if b := readString(t, v.domain); strings.Contains(b, `type="user">`+"\n      <mac address=\"52:54:00:0f:7d:ad\"") {
		t.Errorf("domain file rewritten:\n%s", b)
	}

	// show names both backends (user is recoverable), links unknown.
	code, stdout, stderr := runCmd(t, "show", "--qmp", sock, "--name", "cli", "--json")
	if code != 0 {
		t.Fatalf("show: exit %d: %s", code, stderr)
	}
	var st showOutput
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.VM != "cli" {
		t.Errorf("show VM %q, want cli", st.VM)
	}
	for _, dev := range []string{"net0", "ua-lan"} {
		if r := nic(t, st, dev); r.Backend != "user" || r.Link != "unknown" {
			t.Errorf("show %s: %+v, want backend user, link unknown", dev, r)
		}
	}

	// Again: the link is unknown to a new process, so it is set.
	out, _ = mustRun(t, 0, "update", "--qmp", sock, "--name", "cli", "testdata/iface-user.xml")
	if !strings.HasPrefix(out, "plan link cli net0: 1 step") || !strings.Contains(out, `set_link {"name":"net0","up":true}`) {
		t.Errorf("second update printed:\n%s", out)
	}

	// --xml: the rebuilt domain parses and has both NICs as QEMU has them.
	out, _ = mustRun(t, 0, "show", "--qmp", sock, "--name", "cli", "--xml")
	d, err := domain.ParseDomain([]byte(out), nil)
	if err != nil {
		t.Fatalf("show --xml: %v\n%s", err, out)
	}
	if len(d.NICs) != 2 || d.XML.Name != "cli" ||
		d.NICs[0].DeviceID() != "net0" || d.NICs[0].Model() != "virtio" || d.NICs[0].Backend().Type != domain.TypeUser ||
		d.NICs[1].DeviceID() != "ua-lan" || d.NICs[1].Model() != "e1000" || d.NICs[1].MAC() != "52:54:00:00:00:02" {
		t.Errorf("show --xml:\n%s", out)
	}

	out, _ = mustRun(t, 0, "update", "--qmp", sock, "--name", "cli", "testdata/iface-none.xml")
	if !strings.HasPrefix(out, "plan unplug cli net0: ") {
		t.Errorf("unplug printed:\n%s", out)
	}
	if strings.Contains(v.infoNetwork(t), "np.net0.b") {
		t.Errorf("backend left in QEMU:\n%s", v.infoNetwork(t))
	}
}
