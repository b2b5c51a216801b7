package guest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/internal/testenv"
)

// Fake apt tools for TestBuildLatest: each logs its arguments; "fail"
// fails like an offline apt, "resolve" resolves the cloud kernel to
// cachedPkg=cachedVer.
const (
	cachedPkg = "linux-image-6.1.0-1-cloud-amd64"
	cachedVer = "6.1.4-1"
	fakeFail  = `echo "${0##*/} $*" >> "$NICPLUG_FAKE_APT_LOG"; echo "fake apt: offline" >&2; exit 100`
	fakeApt   = `echo "${0##*/} $*" >> "$NICPLUG_FAKE_APT_LOG"
case "$1" in
depends) echo "linux-image-cloud-amd64"; echo "  Depends: ` + cachedPkg + `" ;;
show) echo "Package: ` + cachedPkg + `"; echo "Version: ` + cachedVer + `" ;;
*) exit 100 ;;
esac`
)

// TestBuildLatest checks when Build asks apt: not when the last resolution
// of the package left a complete kernel in the cache (unless Refresh), and
// that a resolution records its result.
func TestBuildLatest(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		testenv.Skip(t, "no /bin/busybox (apt-get install busybox-static)")
	}
	kdir := cachedPkg + "_" + cachedVer
	resolveCalls := "apt-cache depends linux-image-cloud-amd64\napt-cache show --no-all-versions " + cachedPkg + "\n"
	// After a failed resolution, Build runs apt-get update if root.
	update := ""
	if os.Geteuid() == 0 {
		update = "apt-get update -qq\n"
	}
	tests := []struct {
		name    string
		cfg     BuildConfig
		latest  map[string]string // pointer files: package → content
		apt     string            // fakeFail or fakeApt
		calls   string            // want, the fake tools' log
		wantErr bool
		pointer string // want, latest-linux-image-cloud-amd64 afterwards
	}{
		{
			name:    "cached",
			latest:  map[string]string{"linux-image-cloud-amd64": kdir + "\n"},
			apt:     fakeFail,
			pointer: kdir + "\n",
		},
		{
			name:    "refresh",
			cfg:     BuildConfig{Refresh: true},
			latest:  map[string]string{"linux-image-cloud-amd64": kdir + "\n"},
			apt:     fakeApt,
			calls:   resolveCalls,
			pointer: kdir + "\n",
		},
		{
			name:    "refresh offline",
			cfg:     BuildConfig{Refresh: true},
			latest:  map[string]string{"linux-image-cloud-amd64": kdir + "\n"},
			apt:     fakeFail,
			calls:   "apt-cache depends linux-image-cloud-amd64\n" + update,
			wantErr: true,
			pointer: kdir + "\n",
		},
		{
			name:    "no pointer: resolve and record",
			apt:     fakeApt,
			calls:   resolveCalls,
			pointer: kdir + "\n",
		},
		{
			name:    "pointer to a missing kernel",
			latest:  map[string]string{"linux-image-cloud-amd64": cachedPkg + "_0.1\n"},
			apt:     fakeApt,
			calls:   resolveCalls,
			pointer: kdir + "\n",
		},
		{
			name:    "pointer outside the cache",
			latest:  map[string]string{"linux-image-cloud-amd64": "../" + kdir + "\n"},
			apt:     fakeApt,
			calls:   resolveCalls,
			pointer: kdir + "\n",
		},
		{
			name:    "another package's pointer",
			cfg:     BuildConfig{KernelPackage: "linux-image-amd64"},
			latest:  map[string]string{"linux-image-cloud-amd64": kdir + "\n"},
			apt:     fakeFail,
			calls:   "apt-cache depends linux-image-amd64\n" + update,
			wantErr: true,
			pointer: kdir + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			writeKernelDir(t, filepath.Join(cache, kdir))
			for pkg, content := range tt.latest {
				if err := os.WriteFile(filepath.Join(cache, latestPrefix+pkg), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			bin := t.TempDir()
			for _, tool := range []string{"apt-cache", "apt-get", "dpkg-deb"} {
				if err := os.WriteFile(filepath.Join(bin, tool), []byte("#!/bin/sh\n"+tt.apt+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			logFile := filepath.Join(t.TempDir(), "calls")
			t.Setenv("NICPLUG_FAKE_APT_LOG", logFile)
			t.Setenv("PATH", bin)
			cfg := tt.cfg
			cfg.CacheDir = cache
			a, err := Build(t.Context(), &cfg)
			if tt.wantErr {
				var oe *OpError
				if !errors.As(err, &oe) || !strings.Contains(err.Error(), "fake apt: offline") {
					t.Errorf("Build = %v, want an *OpError with apt's message", err)
				}
			} else if err != nil {
				t.Fatalf("Build: %v", err)
			} else if want, got := cachedPkg+"="+cachedVer, a.Package; got != want {
				t.Errorf("Package = %s, want %s", got, want)
			}
			calls, _ := os.ReadFile(logFile)
			if diff := cmp.Diff(tt.calls, string(calls)); diff != "" {
				t.Errorf("apt calls (-want +got):\n%s", diff)
			}
			pointer, _ := os.ReadFile(filepath.Join(cache, latestPrefix+"linux-image-cloud-amd64"))
			if want, got := tt.pointer, string(pointer); got != want {
				t.Errorf("pointer file holds %q, want %q", got, want)
			}
		})
	}
}

// writeKernelDir writes a complete kernel cache directory with fake files.
func writeKernelDir(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"vmlinuz":           "bzImage",
		"version":           "6.1.0-1-cloud-amd64\n",
		"modules/virtio.ko": "virtio",
		"modules/load":      "virtio\n",
	}
	if err := os.MkdirAll(filepath.Join(dir, "modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
