package guest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationBuildCached builds the assets twice: the second build
// reuses the first's files untouched.
func TestIntegrationBuildCached(t *testing.T) {
	testenv.RequireQEMU(t)
	first := bootAssets(t)
	fi1, err := os.Stat(first.Initrd)
	if err != nil {
		t.Fatal(err)
	}
	second := bootAssets(t)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("second Build (-first +second):\n%s", diff)
	}
	fi2, err := os.Stat(second.Initrd)
	if err != nil {
		t.Fatal(err)
	}
	if !fi1.ModTime().Equal(fi2.ModTime()) {
		t.Errorf("initramfs rewritten: %v then %v", fi1.ModTime(), fi2.ModTime())
	}
	if !strings.HasPrefix(first.Package, "linux-image-") || !strings.Contains(first.Package, "=") {
		t.Errorf("Package %q is not name=version", first.Package)
	}
	if want, got := filepath.Dir(first.Kernel), filepath.Dir(first.Initrd); want != got {
		t.Errorf("kernel and initramfs in different directories: %s, %s", want, got)
	}
	for _, p := range []string{first.Kernel, first.Initrd} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", filepath.Base(p), fi.Size())
	}
}
