package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// userDomain is testdata/domain.xml as a user may have written it: an XML
// declaration, comments, single quotes.
func userDomain(t *testing.T) string {
	t.Helper()
	b := readString(t, "testdata/domain.xml")
	b = strings.Replace(b, "<devices>", "<devices>\n    <!-- net0 starts unplugged -->", 1)
	return "<?xml version='1.0' encoding='UTF-8'?>\n<!-- written by hand: keep -->\n" + b
}

// net0Block is net0's element in testdata/domain.xml.
const net0Block = `<interface type='none'>
      <mac address='52:54:00:0f:7d:ad'/>
      <model type='virtio'/>
    </interface>`

// TestIntegrationSaveSafe (issue 13, item 3): update saves DOMAIN.xml
// through a temporary file of its own (a symlink at the old fixed
// temporary name is not followed), keeps the file's mode and every byte
// outside the changed <interface>, and leaves no temporary file.
func TestIntegrationSaveSafe(t *testing.T) {
	v := startCLIVM(t)
	sock, dom := v.q.Socket, v.domain
	orig := userDomain(t)
	if err := os.WriteFile(dom, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dom, 0o640); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	trap := dom + ".nicplug-tmp"
	if err := os.Symlink(victim, trap); err != nil {
		t.Fatal(err)
	}

	mustRun(t, 0, "start", "--qmp", sock, dom)
	mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, "testdata/iface-user.xml")

	if got := readString(t, victim); got != "precious\n" {
		t.Errorf("the symlink's target was overwritten: %q", got)
	}
	fi, err := os.Lstat(dom)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o640 {
		t.Errorf("DOMAIN.xml is now %v, want a regular file with mode 0640", fi.Mode())
	}
	want := strings.Replace(orig, net0Block, `<interface type="user">
      <mac address="52:54:00:0f:7d:ad"></mac>
      <model type="virtio"></model>
    </interface>`, 1)
	if got := readString(t, dom); got != want {
		t.Errorf("saved DOMAIN.xml:\n%s\nwant\n%s", got, want)
	}
	if got := dirNames(t, filepath.Dir(dom)); !slices.Equal(got, []string{"domain.xml", "domain.xml.nicplug-tmp"}) {
		t.Errorf("directory holds %v, want the domain and the planted symlink only", got)
	}

	// A symlinked DOMAIN.xml: its target is replaced, the link stays.
	realDir := t.TempDir()
	real := filepath.Join(realDir, "real.xml")
	if err := os.Rename(dom, real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, dom); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, "update", "--qmp", sock, "--domain", dom, "testdata/iface-none.xml")
	if fi, err := os.Lstat(dom); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("DOMAIN.xml is no longer a symlink: %v %v", fi.Mode(), err)
	}
	got := readString(t, real)
	if !strings.HasPrefix(got, "<?xml version='1.0' encoding='UTF-8'?>\n<!-- written by hand: keep -->\n") ||
		!strings.Contains(got, "<!-- net0 starts unplugged -->") || !strings.Contains(got, `<interface type="none">`) ||
		!strings.Contains(got, "<alias name='ua-lan'/>") {
		t.Errorf("saved through the symlink:\n%s", got)
	}
	if names := dirNames(t, realDir); !slices.Equal(names, []string{"real.xml"}) {
		t.Errorf("target directory holds %v", names)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestWriteFileAtomic: the temporary file is exclusive and random, the
// file's mode is kept, a path that is no regular file is refused leaving
// nothing behind.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "d.xml")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Whatever sits at predictable names is left alone.
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("v"), 0o600)
	for _, n := range []string{"d.xml.nicplug-tmp", ".d.xml.nicplug-tmp", "d.xml.tmp"} {
		if err := os.Symlink(victim, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeFileAtomic(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, p); got != "new" {
		t.Errorf("file holds %q", got)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
	if got := readString(t, victim); got != "v" {
		t.Errorf("victim overwritten: %q", got)
	}
	if names := dirNames(t, dir); len(names) != 4 {
		t.Errorf("directory holds %v", names)
	}

	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	err := writeFileAtomic(sub, []byte("x"))
	if err == nil || err.Error() != "cannot save "+sub+": not a regular file" {
		t.Errorf("save over a directory: %v", err)
	}
	if names := dirNames(t, dir); len(names) != 5 {
		t.Errorf("directory holds %v after a failed save", names)
	}
	if err := writeFileAtomic(filepath.Join(dir, "missing", "d.xml"), []byte("x")); err == nil {
		t.Error("save into a missing directory succeeded")
	}
}
