package guest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/guest"
)

// waitTimeout bounds each wait for a guest event: generous, the machine is
// shared and TCG is slow.
const waitTimeout = 90 * time.Second

func waitEv(t testing.TB, g *guest.Guest, from int, kind string, args ...string) guest.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ev, err := g.WaitEvent(ctx, from, guest.Match(kind, args...))
	if err != nil {
		t.Fatalf("waiting for %s %v: %v", kind, args, err)
	}
	return ev
}

func execOK(t testing.TB, g *guest.Guest, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	out, st, err := g.Exec(ctx, cmd)
	if err != nil || st != 0 {
		t.Fatalf("exec %q: status %d, err %v, output:\n%s", cmd, st, err, out)
	}
	return out
}

const userNIC = "virtio-net-pci,netdev=u0,id=net0,mac=52:54:00:12:34:56"

// bootUnplugged boots paused, sets net0's link down and continues: the
// guest starts with its cable unplugged.
func bootUnplugged(t testing.TB, extra ...string) (*guest.Guest, *testQMP, time.Time) {
	t.Helper()
	g := guest.Start(t, &guest.Config{Paused: true, ExtraArgs: extra})
	q := dialQMP(t, g.QMPSocket())
	q.setLink(t, "net0", false)
	start := time.Now()
	q.do(t, "cont", nil)
	return g, q, start
}

func TestIntegrationUserLinkDownThenUp(t *testing.T) {
	g, q, start := bootUnplugged(t, "-netdev", "user,id=u0", "-device", userNIC)

	ready := waitEv(t, g, 0, guest.KindReady)
	t.Logf("cont → ready: %v (guest uptime %s)", ready.Time.Sub(start), ready.Fields["up"])
	if want, got := "52:54:00:12:34:56", ready.Fields["mac"]; want != got {
		t.Errorf("ready mac: want %s, got %s", want, got)
	}
	c := waitEv(t, g, ready.Seq, guest.KindCarrier)
	if want, got := "0", c.Arg(0); want != got {
		t.Fatalf("first carrier after a link-down boot: want %s, got %s", want, got)
	}
	if out := execOK(t, g, "ip -4 addr show dev eth0"); strings.Contains(out, "inet ") {
		t.Errorf("eth0 has an IPv4 address with its link down:\n%s", out)
	}
	for _, e := range g.Events() {
		if e.Kind == guest.KindLease || e.Kind == guest.KindCarrier && e.Arg(0) == "1" {
			t.Errorf("unexpected event with the link down: %s", e.Raw)
		}
	}

	seq := g.Seq()
	t0 := time.Now()
	q.setLink(t, "net0", true)
	up := waitEv(t, g, seq, guest.KindCarrier, "1")
	lease := waitEv(t, g, seq, guest.KindLease)
	ping := waitEv(t, g, lease.Seq, guest.KindPing)
	t.Logf("set_link up → carrier %v, lease %v, ping %v", up.Time.Sub(t0), lease.Time.Sub(t0), ping.Time.Sub(t0))
	if want, got := "10.0.2.15/24", lease.Arg(0); want != got {
		t.Errorf("lease address: want %s, got %s", want, got)
	}
	if want, got := "10.0.2.2", lease.Fields["router"]; want != got {
		t.Errorf("lease router: want %s, got %s", want, got)
	}
	if want, got := []string{"10.0.2.2", "ok"}, ping.Args; strings.Join(want, " ") != strings.Join(got, " ") {
		t.Errorf("ping: want %v, got %v", want, got)
	}
	if out := execOK(t, g, "ip -4 addr show dev eth0"); !strings.Contains(out, "inet 10.0.2.15/24") {
		t.Errorf("eth0 lacks the leased address:\n%s", out)
	}
	execOK(t, g, "ping -c 1 -W 2 10.0.2.2")

	seq = g.Seq()
	t0 = time.Now()
	q.setLink(t, "net0", false)
	down := waitEv(t, g, seq, guest.KindCarrier, "0")
	waitEv(t, g, seq, guest.KindDeconfig)
	t.Logf("set_link down → carrier 0 %v", down.Time.Sub(t0))
	if out := execOK(t, g, "ip -4 addr show dev eth0"); strings.Contains(out, "inet ") {
		t.Errorf("eth0 kept an IPv4 address after carrier loss:\n%s", out)
	}

	// Plug again: a NEW lease follows.
	seq = g.Seq()
	q.setLink(t, "net0", true)
	if l := waitEv(t, g, seq, guest.KindLease); l.Seq <= lease.Seq {
		t.Errorf("second lease #%d is not after the first #%d", l.Seq, lease.Seq)
	}
}

func TestIntegrationHubPeered(t *testing.T) {
	g, q, _ := bootUnplugged(t, "-netdev", "hubport,id=hp0,hubid=0",
		"-device", "virtio-net-pci,netdev=hp0,id=net0,mac=52:54:00:12:34:56")
	ready := waitEv(t, g, 0, guest.KindReady)
	waitEv(t, g, ready.Seq, guest.KindCarrier, "0")

	q.do(t, "netdev_add", map[string]any{"type": "user", "id": "u0"})
	q.do(t, "netdev_add", map[string]any{"type": "hubport", "id": "u0hp", "hubid": 0, "netdev": "u0"})
	seq := g.Seq()
	t0 := time.Now()
	q.setLink(t, "net0", true)
	lease := waitEv(t, g, seq, guest.KindLease)
	ping := waitEv(t, g, lease.Seq, guest.KindPing)
	t.Logf("hub-peered: set_link up → lease %v, ping %v", lease.Time.Sub(t0), ping.Time.Sub(t0))
	if want, got := "10.0.2.15/24", lease.Arg(0); want != got {
		t.Errorf("lease address: want %s, got %s", want, got)
	}
	if want, got := "ok", ping.Arg(1); want != got {
		t.Errorf("ping of the router: want %s, got %s (%s)", want, got, ping.Raw)
	}
}

func TestIntegrationExec(t *testing.T) {
	g := guest.Start(t, &guest.Config{ExtraArgs: []string{"-netdev", "user,id=u0", "-device", userNIC}})
	tests := []struct {
		cmd    string
		output string
		status int
	}{
		{"echo hello", "hello\n", 0},
		{"printf abc", "abc", 0},
		{"true", "", 0},
		{"exit 7", "", 7},
		{"echo err >&2; false", "err\n", 1},
		{`printf 'a\n\nb\n\n'`, "a\n\nb\n\n", 0},
		{"echo NICPLUG-X c1 end 0; echo after", "NICPLUG-X c1 end 0\nafter\n", 0},
		{"cd /proc && pwd", "/proc\n", 0},
		{"pwd", "/\n", 0}, // cd above ran in a subshell
		{"read x; echo rc=$?", "rc=1\n", 0},
		{"cat /sys/class/net/eth0/address", "52:54:00:12:34:56\n", 0},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		output, status, err := g.Exec(ctx, tt.cmd)
		cancel()
		if err != nil {
			t.Fatalf("Exec(%q): %v", tt.cmd, err)
		}
		if want, got := tt.output, output; want != got {
			t.Errorf("Exec(%q) output: want %q, got %q", tt.cmd, want, got)
		}
		if want, got := tt.status, status; want != got {
			t.Errorf("Exec(%q) status: want %d, got %d", tt.cmd, want, got)
		}
	}

	for _, bad := range []string{"", "echo a\necho b", "x\r", strings.Repeat("x", 5000)} {
		if _, _, err := g.Exec(context.Background(), bad); err == nil {
			t.Errorf("Exec(%.20q…) succeeded, want an error", bad)
		}
	}

	// A cancelled Exec returns at once; its late output does not leak into
	// the next command's.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, _, err := g.Exec(ctx, "sleep 1; echo late")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec with a short deadline: want DeadlineExceeded, got %v", err)
	}
	if want, got := "next\n", execOK(t, g, "echo next"); want != got {
		t.Errorf("Exec after a cancelled one: want %q, got %q", want, got)
	}
}

func TestIntegrationGuestExit(t *testing.T) {
	g := guest.Start(t, nil)
	waitEv(t, g, 0, guest.KindReady)
	from := g.Seq()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	// Exec's reply may or may not arrive before QEMU exits.
	_, _, _ = g.Exec(ctx, "poweroff -f")
	_, err := g.WaitEvent(ctx, from, guest.Match("never"))
	if !errors.Is(err, guest.ErrExited) {
		t.Fatalf("WaitEvent after poweroff: want ErrExited, got %v", err)
	}
	select {
	case <-g.Done():
	case <-ctx.Done():
		t.Fatal("QEMU still running after poweroff")
	}
	if _, _, err := g.Exec(ctx, "true"); !errors.Is(err, guest.ErrExited) {
		t.Errorf("Exec after poweroff: want ErrExited, got %v", err)
	}
}

// TestIntegrationCloseLeavesNothing checks that Close stops QEMU, removes
// the temporary files and leaves no goroutine, and that a failing Boot
// leaves nothing either.
func TestIntegrationCloseLeavesNothing(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	g0 := guest.Start(t, nil) // builds assets; Start's own cleanup is a no-op after Close
	waitEv(t, g0, 0, guest.KindReady)
	g0.Close()
	assets := &guest.Assets{}
	*assets = bootAssets(t)

	base := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	qmpSock := filepath.Join(t.TempDir(), "qmp.sock") // a caller-chosen QMP path
	g, err := guest.Boot(ctx, &guest.Config{Assets: assets, QMPSocket: qmpSock})
	if err != nil {
		t.Fatal(err)
	}
	if want, got := qmpSock, g.QMPSocket(); want != got {
		t.Errorf("QMPSocket: want %s, got %s", want, got)
	}
	dialQMP(t, qmpSock).do(t, "query-status", nil)
	waitEv(t, g, 0, guest.KindReady)
	execOK(t, g, "true")
	pid := g.Pid()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat("/proc/" + itoa(pid)); err == nil {
		t.Errorf("QEMU pid %d still exists after Close", pid)
	}
	if _, err := g.WaitEvent(ctx, 0, guest.Match("never")); !errors.Is(err, guest.ErrClosed) {
		t.Errorf("WaitEvent after Close: want ErrClosed, got %v", err)
	}
	if _, _, err := g.Exec(ctx, "true"); !errors.Is(err, guest.ErrClosed) {
		t.Errorf("Exec after Close: want ErrClosed, got %v", err)
	}
	checkEmpty(t, tmp)
	checkEmpty(t, filepath.Dir(qmpSock))
	checkGoroutines(t, base)

	bad := []struct {
		name string
		cfg  *guest.Config
	}{
		{"nil config", nil},
		{"no assets", &guest.Config{}},
		{"missing kernel", &guest.Config{Assets: &guest.Assets{Kernel: filepath.Join(tmp, "nope"), Initrd: assets.Initrd}}},
		{"bad qemu argument", &guest.Config{Assets: assets, ExtraArgs: []string{"-device", "no-such-device"}}},
		{"no such binary", &guest.Config{Assets: assets, QEMU: "nicplug-no-such-qemu"}},
	}
	for _, tt := range bad {
		g, err := guest.Boot(ctx, tt.cfg)
		if err == nil {
			g.Close()
			t.Errorf("%s: Boot succeeded, want an error", tt.name)
			continue
		}
		t.Logf("%s: %v", tt.name, err)
		checkEmpty(t, tmp)
	}
	if _, err := guest.Boot(ctx, bad[3].cfg); !errors.Is(err, guest.ErrExited) {
		t.Errorf("bad qemu argument: want ErrExited, got %v", err)
	}
	checkGoroutines(t, base)
}

func bootAssets(t testing.TB) guest.Assets {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a, err := guest.Build(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return *a
}

func itoa(i int) string { return strconv.Itoa(i) }

func checkEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind in %s: %s", dir, e.Name())
	}
}

func checkGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines, want at most %d:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}
