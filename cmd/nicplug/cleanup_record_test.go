package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestIntegrationCleanupRecord kills a switch in its carrier hold, then
// QEMU: the record beside the dead socket names the macvtap and net0's
// unknown link. cleanup --qmp is refused while QEMU listens; for another
// VM it leaves the record alone; without --netns it deletes nothing and
// keeps the record; with --netns it deletes the macvtap and removes the
// record, and nothing else beside the socket (the lock file stays).
func TestIntegrationCleanupRecord(t *testing.T) {
	v := startCLIVM(t)
	_, ns := nphlNetns(t)
	sock, dom := v.q.Socket, v.domain
	cmd, res := switchInHoldProc(t, v, ns)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitResult(t, res, 5*time.Second, "SIGKILL")
	links := ownedLinks(t, ns, "cli")
	if len(links) != 1 {
		t.Fatalf("owned links after the killed switch: %v", links)
	}
	mvt := links[0].Name

	_, stderr := mustRun(t, exitUsage, "cleanup", "--qmp", sock, "--netns", ns, dom)
	if want := "nicplug: cleanup: --qmp " + sock + ": a QEMU still listens on it: cleanup is for a VM whose QEMU has exited\n"; stderr != want {
		t.Errorf("cleanup --qmp of a live QEMU: stderr %q, want %q", stderr, want)
	}
	if got := ownedLinks(t, ns, "cli"); len(got) != 1 {
		t.Errorf("owned links after the refused cleanup: %v", got)
	}

	if err := v.q.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-v.q.Done()
	rec := readString(t, sock+recordSuffix)
	if !strings.Contains(rec, mvt) || !strings.Contains(rec, `"unknown_links"`) {
		t.Fatalf("record after the kills:\n%s\nwant %s and unknown_links", rec, mvt)
	}
	dirBefore := dirNames(t, filepath.Dir(sock))

	// Another VM's cleanup, or one that forgets --netns: the record stays.
	if _, stderr := mustRun(t, 0, "cleanup", "--qmp", sock, "--name", "other"); !strings.Contains(stderr, "nothing to delete") {
		t.Errorf("cleanup of another VM: stderr %q", stderr)
	}
	if got := readString(t, sock+recordSuffix); got != rec {
		t.Errorf("cleanup of another VM rewrote the record:\n%s\nwas:\n%s", got, rec)
	}
	_, stderr = mustRun(t, exitUsage, "cleanup", "--qmp", sock, dom)
	if want := "has " + mvt + " (NIC net0) in network namespace " + ns + ": run it with --netns " + ns; !strings.Contains(stderr, want) {
		t.Errorf("cleanup without --netns: stderr %q, want %q", stderr, want)
	}
	if got := readString(t, sock+recordSuffix); got != rec {
		t.Errorf("a refused cleanup rewrote the record:\n%s\nwas:\n%s", got, rec)
	}

	if out, _ := mustRun(t, 0, "cleanup", "--qmp", sock, "--netns", ns, dom); out != "deleted "+mvt+"\n" {
		t.Errorf("cleanup printed %q", out)
	}
	if got := ownedLinks(t, ns, "cli"); len(got) != 0 {
		t.Errorf("owned links after cleanup: %v", got)
	}
	want := slices.DeleteFunc(dirBefore, func(n string) bool { return n == filepath.Base(sock)+recordSuffix })
	if got := dirNames(t, filepath.Dir(sock)); !slices.Equal(got, want) {
		t.Errorf("beside the socket after cleanup: %v, want %v (the record removed, nothing else)", got, want)
	}
	if _, err := os.Lstat(sock + lockSuffix); err != nil {
		t.Errorf("lock file: %v, want it kept", err)
	}
	if _, stderr := mustRun(t, 0, "cleanup", "--qmp", sock, "--netns", ns, dom); !strings.Contains(stderr, "nothing to delete") {
		t.Errorf("cleanup again: stderr %q", stderr)
	}
}
