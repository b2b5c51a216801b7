//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startCLI runs the CLI as a process of its own (this test binary, see
// mainVar) with args, and returns it with a channel that gets its result.
func startCLI(t *testing.T, args ...string) (*exec.Cmd, <-chan cmdResult) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), mainVar+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	res := make(chan cmdResult, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cmd.Wait()
		res <- cmdResult{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String(), time.Since(start)}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd, res
}

// switchInHoldProc is switchInHold with the command in a process of its
// own, which the test can signal.
func switchInHoldProc(t *testing.T, v *cliVM, ns string) (*exec.Cmd, <-chan cmdResult) {
	t.Helper()
	mustRun(t, 0, "start", "--qmp", v.q.Socket, v.domain)
	mustRun(t, 0, "update", "--qmp", v.q.Socket, "--domain", v.domain, "testdata/iface-user.xml")
	iface := writeIface(t, t.TempDir(), "direct.xml", directIface("veth0"))
	cmd, res := startCLI(t, "update", "--qmp", v.q.Socket, "--netns", ns, "--domain", v.domain, "--carrier-hold", "20s", iface)
	waitInHold(t, ns)
	return cmd, res
}

// wait returns the command's result, failing the test if it does not end
// within d.
func waitResult(t *testing.T, res <-chan cmdResult, d time.Duration, what string) cmdResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(d):
		t.Fatalf("update still running %v after %s", d, what)
		return cmdResult{}
	}
}

// TestIntegrationInterrupt: SIGINT in a switch's carrier hold stops the
// command, which rolls the switch back completely (exit 1, one line):
// the macvtap is gone, the domain file unchanged, and the link is known
// again, so the same update of the old backend is a no-op.
func TestIntegrationInterrupt(t *testing.T) {
	v := startCLIVM(t)
	ns := testNetns(t)
	cmd, res := switchInHoldProc(t, v, ns)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := waitResult(t, res, 15*time.Second, "SIGINT in a 20s carrier hold")
	if r.code != 1 {
		t.Errorf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "context canceled") {
		t.Errorf("stderr %q does not say the command was cancelled", r.stderr)
	}
	checkOneLine(t, r.stderr)
	if links := ownedLinks(t, ns, "cli"); len(links) != 0 {
		t.Errorf("macvtap left behind by the rollback: %v", links)
	}
	if dom := readString(t, v.domain); !strings.Contains(dom, "type=\"user\"") || strings.Contains(dom, "direct") {
		t.Errorf("domain file after the rollback:\n%s", dom)
	}
	if got := unknownLinks(v.q.Socket); len(got) != 0 {
		t.Errorf("links recorded unknown after a complete rollback: %v", got)
	}
	if out, _ := mustRun(t, 0, "update", "--qmp", v.q.Socket, "--domain", v.domain, "testdata/iface-user.xml"); !strings.HasPrefix(out, "plan noop cli net0: no steps") {
		t.Errorf("the old backend again after the rollback:\n%s", out)
	}
}

// TestIntegrationInterruptTwice: a second SIGINT while the rollback waits
// for a stopped QEMU ends the command at once (exit 3, one line saying
// so), with the NIC's link recorded unknown; once QEMU runs again, the
// next update sets the link explicitly, removes what the interrupted
// switch left, and converges.
func TestIntegrationInterruptTwice(t *testing.T) {
	v := startCLIVM(t)
	ns := testNetns(t)
	cmd, res := switchInHoldProc(t, v, ns)
	cont := stopQEMU(t, v)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // in the rollback: its first QMP undo waits for QEMU
	select {
	case r := <-res:
		t.Fatalf("the command ended before the second SIGINT: exit %d: %s", r.code, r.stderr)
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := waitResult(t, res, 5*time.Second, "a second SIGINT")
	if r.code != 3 {
		t.Errorf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	if want := "nicplug: update: interrupted again (interrupt) before its rollback ended: stopped at once"; !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr %q does not start %q", r.stderr, want)
	}
	checkOneLine(t, r.stderr)
	if got := unknownLinks(v.q.Socket); len(got) != 1 || got[0] != "net0" {
		t.Errorf("links recorded unknown after the interrupted rollback: %v, want [net0]", got)
	}
	cont()

	convergeToUser(t, v, ns)
}

// TestIntegrationKilledInHold: while a switch runs, the record says its
// NIC's link is unknown; with nicplug killed (SIGKILL) in the carrier
// hold, the guest's link down, it still says so, and the update back to
// the old backend sets the link, removes the macvtap and converges.
func TestIntegrationKilledInHold(t *testing.T) {
	v := startCLIVM(t)
	ns := testNetns(t)
	cmd, res := switchInHoldProc(t, v, ns)
	// Recorded before the plan ran: a kill at any step leaves it so.
	if got := unknownLinks(v.q.Socket); len(got) != 1 || got[0] != "net0" {
		t.Errorf("links recorded unknown in the hold: %v, want [net0]", got)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitResult(t, res, 5*time.Second, "SIGKILL")
	if got := unknownLinks(v.q.Socket); len(got) != 1 || got[0] != "net0" {
		t.Errorf("links recorded unknown after SIGKILL in the hold: %v, want [net0]", got)
	}
	convergeToUser(t, v, ns)
}

// convergeToUser applies the update back to user networking after an
// interrupted switch, with the record saying net0's link is unknown: the
// plan sets the link explicitly, removes what the switch left on the
// host, and the same update is then a no-op.
func convergeToUser(t *testing.T, v *cliVM, ns string) {
	t.Helper()
	out, _ := mustRun(t, 0, "update", "--qmp", v.q.Socket, "--netns", ns, "--domain", v.domain, "testdata/iface-user.xml")
	if !strings.Contains(out, `set_link {"name":"net0","up":true}`) {
		t.Errorf("the update after the interrupted switch does not set the link:\n%s", out)
	}
	if row := nic(t, v.show(t, true), "net0"); row.Backend != "user" || len(row.Leftovers) != 0 {
		t.Errorf("after converging: %+v", row)
	}
	if links := ownedLinks(t, ns, "cli"); len(links) != 0 {
		t.Errorf("host devices left after converging: %v", links)
	}
	if out, _ := mustRun(t, 0, "update", "--qmp", v.q.Socket, "--domain", v.domain, "testdata/iface-user.xml"); !strings.HasPrefix(out, "plan noop cli net0: no steps") {
		t.Errorf("update after converging:\n%s", out)
	}
}
