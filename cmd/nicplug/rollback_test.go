package main

import (
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// switchInHold starts the CLI VM with net0 on user networking and runs,
// in the background, its switch to a macvtap in a fresh namespace with a
// long carrier hold; it returns once the switch is in its hold (the
// macvtap exists, and QEMU's part of the switch takes milliseconds), with
// a channel that gets the command's result.
func switchInHold(t *testing.T, v *cliVM, ns string, extra ...string) <-chan cmdResult {
	t.Helper()
	mustRun(t, 0, "start", "--qmp", v.q.Socket, v.domain)
	mustRun(t, 0, "update", "--qmp", v.q.Socket, "--domain", v.domain, "testdata/iface-user.xml")
	iface := writeIface(t, t.TempDir(), "direct.xml", directIface("veth0"))
	res := make(chan cmdResult, 1)
	go func() {
		args := append([]string{"update", "--qmp", v.q.Socket, "--netns", ns, "--domain", v.domain, "--carrier-hold", "20s"}, extra...)
		start := time.Now()
		code, stdout, stderr := runCmd(t, append(args, iface)...)
		res <- cmdResult{code, stdout, stderr, time.Since(start)}
	}()
	waitInHold(t, ns)
	return res
}

// waitInHold returns once the switch of switchInHold is in its carrier
// hold: the macvtap exists, and QEMU's part of the switch takes
// milliseconds.
func waitInHold(t *testing.T, ns string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(ownedLinks(t, ns, "cli")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the switch created no macvtap in 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
}

// stopQEMU stops the VM's QEMU (SIGSTOP) and returns the function that
// lets it run again; the test's cleanup does so if the test did not.
func stopQEMU(t *testing.T, v *cliVM) (cont func()) {
	t.Helper()
	if err := v.q.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	cont = func() {
		once.Do(func() {
			if err := v.q.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(cont)
	return cont
}

type cmdResult struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// TestIntegrationStoppedQEMUInHold stops QEMU (SIGSTOP) in a switch's
// carrier hold: the command ends within --timeout and its documented
// margin, its rollback removes the macvtap although QEMU's undos hang, it
// says what it could not undo (exit 3), and once QEMU runs again the same
// update converges and an unplug leaves nothing.
func TestIntegrationStoppedQEMUInHold(t *testing.T) {
	v := startCLIVM(t)
	ns := testNetns(t)
	res := switchInHold(t, v, ns, "--timeout", "2s")
	cont := stopQEMU(t, v)
	var r cmdResult
	select {
	case r = <-res:
	case <-time.After(2*time.Second + timeoutMargin + 10*time.Second):
		t.Fatalf("update still running %v after --timeout 2s (margin %v)", 2*time.Second+timeoutMargin+10*time.Second, timeoutMargin)
	}
	if r.code != 3 {
		t.Errorf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"nicplug: update: step ", "(hold: wait): nicplug: wait: context deadline exceeded; rollback: undo of step "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}
	for _, want := range []string{"; QEMU did not answer a read-back (", "context deadline exceeded): " + v.domain +
		" was left as it was and may not say what is live; check with 'nicplug show' once QEMU answers"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}
	checkOneLine(t, r.stderr)
	if links := ownedLinks(t, ns, "cli"); len(links) != 0 {
		t.Errorf("macvtap left behind by the rollback: %v", links)
	}
	cont()

	// The same update again converges, and an unplug leaves nothing.
	iface := writeIface(t, t.TempDir(), "direct.xml", directIface("veth0"))
	_, stderr := mustRun(t, 0, "update", "--qmp", v.q.Socket, "--netns", ns, "--domain", v.domain, "--carrier-hold", "0", iface)
	// The macvtap the rollback deleted may be expected again (QEMU ran
	// the queued undos or not): reported gone, not as living elsewhere.
	if strings.Contains(stderr, "run the update again") {
		t.Errorf("retry warned of a device elsewhere: %q", stderr)
	}
	if r := nic(t, showJSON(t, v.q.Socket, v.domain, ns), "net0"); !strings.HasPrefix(r.Backend, "direct(") || len(r.Leftovers) != 0 {
		t.Errorf("after the retry: %+v", r)
	}
	if links := ownedLinks(t, ns, "cli"); len(links) != 1 {
		t.Errorf("owned links after the retry: %v", links)
	}
	mustRun(t, 0, "update", "--qmp", v.q.Socket, "--netns", ns, "--domain", v.domain, "testdata/iface-none.xml")
	if r := nic(t, v.show(t, true), "net0"); r.Backend != "none" || len(r.Leftovers) != 0 {
		t.Errorf("after unplug: %+v", r)
	}
	if links := ownedLinks(t, ns, "cli"); len(links) != 0 {
		t.Errorf("owned links after unplug: %v", links)
	}
}

// TestIntegrationKilledQEMUInHold kills QEMU in a switch's 20 s carrier
// hold: the hold ends at once with an error that says so, and the
// rollback still removes the macvtap.
func TestIntegrationKilledQEMUInHold(t *testing.T) {
	v := startCLIVM(t)
	ns := testNetns(t)
	res := switchInHold(t, v, ns)
	v.q.Kill()
	var r cmdResult
	select {
	case r = <-res:
	case <-time.After(15 * time.Second):
		t.Fatal("update still running 15s after QEMU was killed in its 20s carrier hold")
	}
	if r.code != 3 {
		t.Errorf("exit %d, want 3 (QEMU's undos fail)\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"(hold: wait): nicplug: wait: QEMU went away during the 20s carrier hold: ",
		"; QEMU closed its monitor (", "): if it exited, delete the VM's host devices with 'nicplug cleanup'"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}
	checkOneLine(t, r.stderr)
	if links := ownedLinks(t, ns, "cli"); len(links) != 0 {
		t.Errorf("macvtap left behind by the rollback: %v", links)
	}
}

// TestIntegrationFailedRollbackReadBack fails a switch's rollback while
// QEMU answers (its macvtap is deleted behind nicplug's back in the
// carrier hold, and the hold ends at --timeout): the message says what QEMU
// has, the domain file still says it, the link is recorded unknown, so
// the next update sets it explicitly and converges.
func TestIntegrationFailedRollbackReadBack(t *testing.T) {
	v := startCLIVM(t)
	ns := testNetns(t)
	res := switchInHold(t, v, ns, "--timeout", "2s")
	links := ownedLinks(t, ns, "cli")
	if len(links) != 1 {
		t.Fatalf("owned links in the hold: %v", links)
	}
	ip(t, "-n", ns[len("/run/netns/"):], "link", "del", links[0].Name)
	var r cmdResult
	select {
	case r = <-res:
	case <-time.After(2*time.Second + timeoutMargin + 10*time.Second):
		t.Fatal("update still running long after --timeout 2s")
	}
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"rollback: undo of step 1 (host delete-link): netif: delete " + links[0].Name + ": no device",
		"; QEMU has backend np.net0.b1.",
		" attached on net0, as before the update; its link state is unknown",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
	}
	if dom := readString(t, v.domain); !strings.Contains(dom, "type=\"user\"") || strings.Contains(dom, "direct") {
		t.Errorf("domain file after the failed rollback:\n%s", dom)
	}
	if row := nic(t, v.show(t, true), "net0"); row.Backend != "user" || len(row.Leftovers) != 0 {
		t.Errorf("show after the failed rollback: %+v", row)
	}
	out, _ := mustRun(t, 0, "update", "--qmp", v.q.Socket, "--domain", v.domain, "testdata/iface-user.xml")
	if !strings.Contains(out, "set_link {\"name\":\"net0\",\"up\":true}") {
		t.Errorf("update after the failed rollback does not set the link:\n%s", out)
	}
	// Converged: the link is known again, the same update is a no-op.
	if out, _ := mustRun(t, 0, "update", "--qmp", v.q.Socket, "--domain", v.domain, "testdata/iface-user.xml"); !strings.HasPrefix(out, "plan noop cli net0: no steps") {
		t.Errorf("update after converging:\n%s", out)
	}
}
