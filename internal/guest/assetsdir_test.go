package guest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nicplug/nicplug/internal/guest"
)

// TestAssetsDir: WriteAssets copies a busybox guest's files into a
// directory that ReadAssets reads back; a distribution guest's assets and
// an incomplete directory are refused.
func TestAssetsDir(t *testing.T) {
	src := t.TempDir()
	a := &guest.Assets{Kernel: filepath.Join(src, "k"), Initrd: filepath.Join(src, "i"),
		KernelVersion: "6.1.0-57-cloud-amd64", Package: "linux-image-6.1.0-57-cloud-amd64=6.1.158-1"}
	for p, b := range map[string]string{a.Kernel: "kernel", a.Initrd: "initrd"} {
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "assets")
	if err := guest.WriteAssets(a, dir); err != nil {
		t.Fatal(err)
	}
	got, err := guest.ReadAssets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.KernelVersion != a.KernelVersion || got.Package != a.Package || got.Disk != "" {
		t.Errorf("ReadAssets = %+v, want version %s, package %s", got, a.KernelVersion, a.Package)
	}
	for p, want := range map[string]string{got.Kernel: "kernel", got.Initrd: "initrd"} {
		if b, err := os.ReadFile(p); err != nil || string(b) != want || filepath.Dir(p) != dir {
			t.Errorf("%s: %q, %v; want %q in %s", p, b, err, want, dir)
		}
	}

	if err := guest.WriteAssets(&guest.Assets{Kernel: a.Kernel, Initrd: a.Initrd, Disk: "/x.ext4"}, t.TempDir()); err == nil {
		t.Error("WriteAssets of a distribution guest: no error")
	}
	if err := os.Remove(got.Initrd); err != nil {
		t.Fatal(err)
	}
	if _, err := guest.ReadAssets(dir); err == nil {
		t.Error("ReadAssets without the initrd: no error")
	}
	if _, err := guest.ReadAssets(t.TempDir()); err == nil {
		t.Error("ReadAssets of an empty directory: no error")
	}
}
