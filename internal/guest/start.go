package guest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/nicplug/nicplug/internal/testenv"
)

// TB is the part of testing.TB that [Start] uses; a *testing.T or
// *testing.B satisfies it.
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Failed() bool
	Context() context.Context
}

// startAssets builds the default assets once per process for Start (a
// cached build still reads the kernel's modules and hashes busybox), or
// reads those $NICPLUG_GUEST_ASSETS names.
var startAssets = sync.OnceValues(func() (*Assets, error) {
	if dir := os.Getenv(AssetsVar); dir != "" {
		return ReadAssets(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return Build(ctx, nil)
})

// Start builds the assets (cached, and built once per process; or reads
// them from $NICPLUG_GUEST_ASSETS, see [AssetsVar]) and boots a guest
// for a test. cfg.Assets may be nil (Start fills it in; cfg is not
// modified). It skips the test when QEMU is missing or the assets cannot be
// built (no apt, no network), which under NICPLUG_CI=1 is a failure
// instead. The guest is closed in
// t.Cleanup, which logs its console and QEMU's stderr if the test failed.
func Start(t TB, cfg *Config) *Guest {
	t.Helper()
	testenv.RequireQEMU(t)
	if _, err := exec.LookPath("dpkg-deb"); err != nil && os.Getenv(AssetsVar) == "" {
		testenv.Skip(t, "guest: dpkg-deb not found (not a Debian host)")
	}
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.Assets == nil {
		a, err := startAssets()
		if err != nil {
			testenv.Skip(t, fmt.Sprintf("guest assets unavailable: %v", err))
		}
		c.Assets = a
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	g, err := Boot(ctx, &c)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("guest console:\n%s", g.Console())
			if s := g.Stderr(); s != "" {
				t.Logf("qemu stderr:\n%s", s)
			}
		}
		if err := g.Close(); err != nil {
			t.Logf("%v", err)
		}
	})
	return g
}

// distroAssets builds each distribution guest once per process.
var distroAssets sync.Map // Stack → func() (*Assets, error)

// StartDistro is [Start] for a distribution guest of stack (see
// [BuildDistro], built once per process and cached): it needs root,
// mmdebstrap and mke2fs, and skips (or fails under NICPLUG_CI=1) without
// them. cfg.Assets is ignored.
func StartDistro(t TB, stack Stack, cfg *Config) *Guest {
	t.Helper()
	testenv.RequireRoot(t)
	for _, tool := range []string{"mmdebstrap", "mke2fs"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Skip(t, "guest: "+tool+" not found (apt-get install mmdebstrap e2fsprogs)")
		}
	}
	build, _ := distroAssets.LoadOrStore(stack, sync.OnceValues(func() (*Assets, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		return BuildDistro(ctx, stack, nil)
	}))
	a, err := build.(func() (*Assets, error))()
	if err != nil {
		t.Fatalf("%v", err)
	}
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	c.Assets = a
	return Start(t, &c)
}
