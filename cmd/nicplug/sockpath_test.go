package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nicplug/nicplug/internal/testenv"
)

// nphlNetns creates a fresh network namespace named nphl-<random> with a
// veth pair (veth0, veth1 up, the macvtap parents), deleted in t.Cleanup,
// and returns its name and path.
func nphlNetns(t *testing.T) (name, path string) {
	t.Helper()
	testenv.RequireRoot(t)
	var b [4]byte
	rand.Read(b[:])
	name = "nphl-" + hex.EncodeToString(b[:])
	ip(t, "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "veth0", "type", "veth", "peer", "name", "veth1"},
		{"link", "set", "veth0", "up"},
		{"link", "set", "veth1", "up"},
	} {
		ip(t, append([]string{"-n", name}, args...)...)
	}
	return name, "/run/netns/" + name
}

// forgotten is the refusal of a command on NIC net0 of VM cli whose
// --netns does not reach its device link in namespace ns.
func forgotten(link, ns string) string {
	return "NIC net0 of VM cli has host device " + link + " in network namespace " + ns +
		", where nicplug created it, not in this command's (--netns): run it with --netns " + ns
}

// TestIntegrationSocketSymlink reaches one monitor socket by its path and
// by a symlink to it: both share the VM's lock and its host device record
// (named after the socket itself), so an unplug through the symlink that
// forgets --netns is refused instead of leaking the macvtap, and a
// command through the symlink waits for the lock a command through the
// socket holds. A socket with a second hard link is refused by either
// name (exit 2), with no file created beside it.
func TestIntegrationSocketSymlink(t *testing.T) {
	v := startCLIVM(t)
	_, ns := nphlNetns(t)
	sock, dom := v.q.Socket, v.domain
	link := filepath.Join(filepath.Dir(sock), "q1link.sock")
	if err := os.Symlink(filepath.Base(sock), link); err != nil {
		t.Fatal(err)
	}
	if lockPath(link) != lockPath(sock) || sidecarPath(link, recordSuffix) != sidecarPath(sock, recordSuffix) {
		t.Errorf("symlink %s: lock %s, record %s; want the socket's", link, lockPath(link), sidecarPath(link, recordSuffix))
	}
	iface := writeIface(t, t.TempDir(), "direct.xml", directIface("veth0"))
	mustRun(t, 0, "start", "--qmp", sock, dom)
	mustRun(t, 0, "update", "--qmp", sock, "--netns", ns, "--domain", dom, iface)
	links := ownedLinks(t, ns, "cli")
	if len(links) != 1 {
		t.Fatalf("owned links after plug: %v", links)
	}
	mvt := links[0].Name

	// Through the symlink, without --netns: refused, nothing changed.
	_, stderr := mustRun(t, exitUsage, "update", "--qmp", link, "--domain", dom, "testdata/iface-none.xml")
	if want := forgotten(mvt, ns); !strings.Contains(stderr, want) {
		t.Errorf("update through the symlink without --netns: stderr %q, want %q", stderr, want)
	}
	if got := ownedLinks(t, ns, "cli"); len(got) != 1 || got[0].Name != mvt {
		t.Errorf("owned links after the refused update: %v", got)
	}

	// The lock taken through the socket holds off a command through the
	// symlink.
	l, err := lockVM(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	_, stderr = mustRun(t, exitFailed, "update", "--qmp", link, "--netns", ns, "--timeout", "300ms", "--domain", dom, "testdata/iface-none.xml")
	l.unlock()
	if want := "is working on this VM and holds " + lockPath(sock) + ": gave up waiting"; !strings.Contains(stderr, want) {
		t.Errorf("update through the symlink while the socket's lock is held: stderr %q, want %q", stderr, want)
	}

	// Through the symlink with --netns: the macvtap is deleted and the
	// record goes.
	mustRun(t, 0, "update", "--qmp", link, "--netns", ns, "--domain", dom, "testdata/iface-none.xml")
	if got := ownedLinks(t, ns, "cli"); len(got) != 0 {
		t.Errorf("owned links after the unplug through the symlink: %v", got)
	}
	for _, p := range []string{sock + recordSuffix, link + recordSuffix, link + lockSuffix} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want none", p, err)
		}
	}

	// A second hard link: refused by either name, before anything.
	hard := filepath.Join(filepath.Dir(sock), "q1hard.sock")
	if err := os.Link(sock, hard); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{hard, sock, link} {
		_, stderr := mustRun(t, exitUsage, "update", "--qmp", p, "--netns", ns, "--domain", dom, iface)
		if want := "nicplug: update: --qmp " + p + ": the socket has 2 hard links: "; !strings.HasPrefix(stderr, want) {
			t.Errorf("update --qmp %s with a hard link: stderr %q, want %q…", p, stderr, want)
		}
	}
	if got := ownedLinks(t, ns, "cli"); len(got) != 0 {
		t.Errorf("owned links after the refused updates: %v", got)
	}
	for _, p := range []string{hard + lockSuffix, hard + recordSuffix} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want none", p, err)
		}
	}
	if err := os.Remove(hard); err != nil {
		t.Fatal(err)
	}
	if r := nic(t, v.show(t, true), "net0"); r.Backend != "none" {
		t.Errorf("after the unplug: %+v", r)
	}
}

// TestResolveSocket: every symlink on the way to the socket is resolved,
// a directory's, the socket's own and a chain of them, also when the
// socket itself is gone (its QEMU exited); a loop ends.
func TestResolveSocket(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(real, "q.sock") // absent
	for _, l := range [][2]string{
		{"real", filepath.Join(dir, "alias")},
		{"q.sock", filepath.Join(real, "l1.sock")},
		{filepath.Join(dir, "alias", "l1.sock"), filepath.Join(dir, "l2.sock")},
		{"loop.sock", filepath.Join(dir, "loop.sock")},
	} {
		if err := os.Symlink(l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{sock, filepath.Join(dir, "alias", "q.sock"), filepath.Join(dir, "alias", "l1.sock"), filepath.Join(dir, "l2.sock")} {
		if got := resolveSocket(p); got != sock {
			t.Errorf("resolveSocket(%s) = %s, want %s", p, got, sock)
		}
	}
	if got := resolveSocket(filepath.Join(dir, "loop.sock")); got != filepath.Join(dir, "loop.sock") {
		t.Errorf("resolveSocket of a loop = %s", got)
	}
}
