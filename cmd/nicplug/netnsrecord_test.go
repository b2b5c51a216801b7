package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procNetns starts `ip netns exec NAME sleep` and returns the process's
// /proc/PID/ns/net once it is in namespace path, and a func that kills
// and reaps it (also run in t.Cleanup).
func procNetns(t *testing.T, name, path string) (string, func()) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", name, "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once bool
	kill := func() {
		if !once {
			once = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(kill)
	proc := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/net"
	want, err := netnsID(path)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if id, err := netnsID(proc); err == nil && id == want {
			return proc, kill
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never entered %s", proc, path)
		}
	}
}

// TestIntegrationRecordProcNetns plugs a macvtap with --netns
// /proc/PID/ns/net, PID a process in the named namespace X, and lets PID
// exit: the record's path no longer reaches the namespace, but the
// namespace lives on as /run/netns/X, found by its inode, so an unplug
// without --netns is refused naming /run/netns/X (instead of exiting 0
// with the macvtap leaked) and one with --netns /run/netns/X deletes it.
// When no namespace has the recorded inode any more (the process exited
// and the name was deleted), the device is gone with it and the unplug
// goes ahead.
func TestIntegrationRecordProcNetns(t *testing.T) {
	v := startCLIVM(t)
	name, ns := nphlNetns(t)
	sock, dom := v.q.Socket, v.domain
	iface := writeIface(t, t.TempDir(), "direct.xml", directIface("veth0"))
	mustRun(t, 0, "start", "--qmp", sock, dom)

	proc, kill := procNetns(t, name, ns)
	mustRun(t, 0, "update", "--qmp", sock, "--netns", proc, "--domain", dom, iface)
	links := ownedLinks(t, ns, "cli")
	if len(links) != 1 {
		t.Fatalf("owned links after plug: %v", links)
	}
	mvt := links[0].Name
	if rec := readString(t, sock+recordSuffix); !strings.Contains(rec, `"netns": "`+proc+`"`) {
		t.Errorf("record:\n%s\nwant netns %s", rec, proc)
	}
	kill()
	_, stderr := mustRun(t, exitUsage, "update", "--qmp", sock, "--domain", dom, "testdata/iface-none.xml")
	if want := forgotten(mvt, ns); !strings.Contains(stderr, want) {
		t.Errorf("unplug without --netns after %s exited: stderr %q, want %q", proc, stderr, want)
	}
	if got := ownedLinks(t, ns, "cli"); len(got) != 1 || got[0].Name != mvt {
		t.Errorf("owned links after the refused unplug: %v", got)
	}
	mustRun(t, 0, "update", "--qmp", sock, "--netns", ns, "--domain", dom, "testdata/iface-none.xml")
	if got := ownedLinks(t, ns, "cli"); len(got) != 0 {
		t.Errorf("owned links after the unplug: %v", got)
	}
	if _, err := os.Lstat(sock + recordSuffix); !os.IsNotExist(err) {
		t.Errorf("record after the unplug: %v, want none", err)
	}

	// The namespace gone altogether: so is the device, and its entry.
	name2, ns2 := nphlNetns(t)
	proc, kill = procNetns(t, name2, ns2)
	mustRun(t, 0, "update", "--qmp", sock, "--netns", proc, "--domain", dom, iface)
	kill()
	ip(t, "netns", "del", name2)
	mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, "testdata/iface-none.xml")
	if _, err := os.Lstat(sock + recordSuffix); !os.IsNotExist(err) {
		t.Errorf("record after the namespace went: %v, want none", err)
	}
}
