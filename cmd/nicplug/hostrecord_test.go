package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationForgottenNetns plugs a macvtap with --netns and then
// unplugs without it: the command is refused naming the namespace, and
// nothing changes; with the record gone (a device created by an older
// nicplug, or by the library), the unplug is applied but the missing
// device is reported (a warning and a line of the plan), not counted as
// deleted; the next command with --netns removes it.
func TestIntegrationForgottenNetns(t *testing.T) {
	v := startCLIVM(t)
	ns := testNetns(t)
	sock, dom := v.q.Socket, v.domain
	iface := writeIface(t, t.TempDir(), "direct.xml", directIface("veth0"))
	mustRun(t, 0, "start", "--qmp", sock, dom)
	mustRun(t, 0, "update", "--qmp", sock, "--netns", ns, "--domain", dom, iface)
	links := ownedLinks(t, ns, "cli")
	if len(links) != 1 {
		t.Fatalf("owned links after plug: %v", links)
	}
	mvt := links[0].Name

	// Forgetting --netns: refused, nothing changed.
	info, saved := v.infoNetwork(t), readString(t, dom)
	for _, cmd := range [][]string{
		{"update", "--qmp", sock, "--domain", dom, "testdata/iface-none.xml"},
		{"update", "--qmp", sock, "--domain", dom, "testdata/iface-user.xml"},
		{"plan", "--qmp", sock, "--domain", dom, "testdata/iface-none.xml"},
		{"update", "--qmp", sock, "--name", "cli", "testdata/iface-none.xml"}, // without the domain file
	} {
		_, stderr := mustRun(t, 2, cmd...)
		want := "NIC net0 of VM cli has host device " + mvt + " in network namespace " + ns +
			", where nicplug created it, not in this command's (--netns): run it with --netns " + ns
		if !strings.Contains(stderr, want) {
			t.Errorf("%v: stderr %q, want %q", cmd, stderr, want)
		}
	}
	if got := v.infoNetwork(t); got != info {
		t.Errorf("refused commands changed QEMU:\n%s\nwas:\n%s", got, info)
	}
	if readString(t, dom) != saved {
		t.Error("refused commands rewrote the domain file")
	}
	if got := ownedLinks(t, ns, "cli"); len(got) != 1 || got[0].Name != mvt {
		t.Errorf("owned links after refused commands: %v", got)
	}

	// Without the record (a device created by an older nicplug): the
	// unplug is applied in QEMU and the device it did not find is
	// reported, not counted as deleted.
	if err := os.Remove(sock + recordSuffix); err != nil {
		t.Fatal(err)
	}
	stdout, stderr := mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, "testdata/iface-none.xml")
	if want := "nicplug: warning: host link " + mvt + " of NIC net0 was not found in the current network namespace: nothing deleted; it is in network namespace " + ns + ": run the update again with --netns " + ns + " to remove it\n"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	if want := "  missing host link " + mvt + ": not in the host's network namespace, nothing deleted\n"; !strings.Contains(stdout, want) || strings.Contains(stdout, "delete-link") {
		t.Errorf("plan printed:\n%s\nwant no delete-link and %q", stdout, want)
	}
	if r := nic(t, v.show(t, true), "net0"); r.Backend != "none" {
		t.Errorf("after unplug: %+v", r)
	}
	if got := ownedLinks(t, ns, "cli"); len(got) != 1 || got[0].Name != mvt {
		t.Fatalf("owned links after the unplug: %v, want %s left and reported", got, mvt)
	}
	// The next command in the right namespace converges.
	out, _ := mustRun(t, 0, "update", "--qmp", sock, "--netns", ns, "--domain", dom, "testdata/iface-none.xml")
	if !strings.HasPrefix(out, "plan cleanup cli net0: ") || !strings.Contains(out, "delete-link "+mvt) {
		t.Errorf("update printed:\n%s", out)
	}
	if got := ownedLinks(t, ns, "cli"); len(got) != 0 {
		t.Errorf("owned links after cleanup: %v", got)
	}
	if _, err := os.Stat(sock + recordSuffix); !os.IsNotExist(err) {
		t.Errorf("record left behind with nothing to record: %v", err)
	}
}

// TestRecordBounded: a record beside the socket that is a symlink (to
// /dev/zero here), or larger than 1 MiB, is refused at once instead of
// read without end.
func TestRecordBounded(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "qmp.sock")
	if err := os.Symlink("/dev/zero", sock+recordSuffix); err != nil {
		t.Fatal(err)
	}
	if _, err := loadRecord(sock); err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("record symlinked to /dev/zero: %v", err)
	}
	os.Remove(sock + recordSuffix)
	if err := os.WriteFile(sock+recordSuffix, make([]byte, maxRecordSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadRecord(sock); err == nil || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Errorf("record of 1 MiB + 1: %v", err)
	}
}
