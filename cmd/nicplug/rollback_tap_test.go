package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationTapStoppedQEMUInHold stops QEMU (SIGSTOP) in the carrier
// hold of a tap-datapath move to a macvlan: the rollback's set_link undo
// hangs between its host undos, yet the host's budget is not spent by it
// and the macvlan the move created is deleted; the command ends within
// --timeout and its margin (exit 3), the tap is plugged back where it was,
// and once QEMU runs again the next update converges.
func TestIntegrationTapStoppedQEMUInHold(t *testing.T) {
	nsName, ns := tapNetns(t)
	ip(t, "-n", nsName, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	ip(t, "-n", nsName, "link", "set", "veth0", "up")
	dir := t.TempDir()
	vm := "clistop" + nsName[len(nsName)-4:]
	dom := writeFile(t, dir, "domain.xml", fmt.Sprintf(`<domain type='qemu'><name>%s</name><os><type machine='q35'>hvm</type></os><devices>%s</devices></domain>`,
		vm, fmt.Sprintf(tapIfaceFmt, "none", "")))
	br0 := writeFile(t, dir, "br0.xml", fmt.Sprintf(tapIfaceFmt, "bridge", "<source bridge='br0'/>"))
	direct := writeFile(t, dir, "direct.xml", fmt.Sprintf(tapIfaceFmt, "direct", "<source dev='veth0' mode='bridge'/>"))
	tap := backend.TapName(vm, "net0")
	out, _ := mustRun(t, 0, "qemu-args", "--netns", ns, dom)
	q := testenv.StartQEMUNetns(t, nsName, strings.Split(strings.TrimSuffix(out, "\n"), "\n")...)
	sock := q.Socket
	mustRun(t, 0, "start", "--qmp", sock, "--netns", ns, dom)
	mustRun(t, 0, "update", "--qmp", sock, "--netns", ns, "--domain", dom, "--carrier-hold", "0", br0)

	res := make(chan cmdResult, 1)
	go func() {
		start := time.Now()
		code, stdout, stderr := runCmd(t, "update", "--qmp", sock, "--netns", ns, "--domain", dom,
			"--carrier-hold", "20s", "--carrier-hold-fixed", "--timeout", "2s", direct)
		res <- cmdResult{code, stdout, stderr, time.Since(start)}
	}()
	// In the hold once the tap redirects to the macvlan.
	host := backend.NewNetifHost(ns)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if p, err := host.TapPlug(t.Context(), tap); err == nil && p.Redirect != "" && p.Back {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the move did not reach its hold in 30s")
		}
	}
	if err := q.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer q.Cmd.Process.Signal(syscall.SIGCONT)
	var r cmdResult
	select {
	case r = <-res:
	case <-time.After(2*time.Second + timeoutMargin + 10*time.Second):
		t.Fatal("update still running long after --timeout 2s and its margin")
	}
	if r.code != exitPartial || !strings.Contains(r.stderr, "undo of step ") || !strings.Contains(r.stderr, "(qmp set_link)") || strings.Contains(r.stderr, "(host ") {
		t.Errorf("exit %d, stderr %q: want 3, set_link's undo failed and no host undo", r.code, r.stderr)
	}
	if r.took > 2*time.Second+timeoutMargin {
		t.Errorf("update took %v, more than --timeout 2s + %v", r.took, timeoutMargin)
	}
	if links := ownedLinks(t, ns, vm); len(links) != 1 || links[0].Name != tap {
		t.Errorf("owned links after the rollback: %v, want the tap alone (the macvlan deleted)", links)
	}
	if p, err := host.TapPlug(t.Context(), tap); err != nil || p.Master != "br0" || p.Redirect != "" {
		t.Errorf("after the rollback: tap plugged into %+v, %v; want br0", p, err)
	}
	if err := q.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, "update", "--qmp", sock, "--netns", ns, "--domain", dom, "--carrier-hold", "0", direct)
	if r := nic(t, showJSON(t, sock, dom, ns), "net0"); r.Backend != "direct(veth0,bridge)" {
		t.Errorf("after the retry: %+v", r)
	}
}
