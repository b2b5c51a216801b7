package guest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nicplug/nicplug/internal/testenv"
)

// GoTest is one package's Go tests for [RunGoTests] to run in a guest.
type GoTest struct {
	// Pkg is the package, as the go command takes it: an import path
	// ("github.com/nicplug/nicplug/netif") or a directory relative to the
	// caller's working directory ("../../netif").
	Pkg string
	// Args are the test binary's flags after -test.v, e.g. "-test.run",
	// "VLAN". Use the -test. prefix: the binary is run directly.
	Args []string
	// Env is added to the environment of the binary (NAME=value), after
	// NICPLUG_CI=1 (which RunGoTests always sets, so that a test that
	// would skip for want of root, QEMU or a kernel feature fails).
	Env []string
	// MustPass names tests, as -test.v prints them ("TestX",
	// "TestX/sub"), that must end in "--- PASS": one that skipped or did
	// not run fails the host's test, so that a -test.run pattern that
	// matches nothing or a silent skip cannot pass for proof.
	MustPass []string
	// Timeout bounds the binary's run (-test.timeout, and the guest
	// command's own timeout a little later). 0 means 10 minutes.
	Timeout time.Duration
	// Guest says that the binary boots the busybox guest ([Start]):
	// RunGoTests builds its assets on the host (or takes the host's
	// $NICPLUG_GUEST_ASSETS), carries them on the data disk and names
	// them in the binary's $NICPLUG_GUEST_ASSETS ([AssetsVar]), so that
	// nothing is built or downloaded in the guest.
	Guest bool
}

// guestAssetsDir is the directory of the busybox guest's assets on the
// data disk, relative to its root.
const guestAssetsDir = "busybox-guest"

// GoTestTB is the part of testing.TB that [RunGoTests] uses: [TB],
// Errorf and TempDir (a *testing.T satisfies it; this package does not
// import testing).
type GoTestTB interface {
	TB
	Errorf(format string, args ...any)
	TempDir() string
}

// guestTestDir is where RunGoTests mounts the data disk in the guest.
const guestTestDir = "/run/nicplug-tests"

// CompileTest compiles the test binary of package pkg (see GoTest.Pkg) to
// out with `go test -c`, statically (CGO_ENABLED=0, so that it runs on a
// guest whatever its libc) and without the race detector (which needs
// cgo). It uses the go command from PATH; `go test` puts its own first.
func CompileTest(ctx context.Context, pkg, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return newOpError("compile test", fmt.Errorf("go command not found: %w", err))
	}
	cmd := exec.CommandContext(ctx, goBin, "test", "-c", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return newOpError("compile test", fmt.Errorf("go test -c %s: %w: %s", pkg, err, tail(b, 4000)))
	}
	return nil
}

// packageDir returns the source directory of package pkg (for its
// testdata) and the last element of its import path (to name its binary).
func packageDir(ctx context.Context, pkg string) (dir, base string, err error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}} {{.ImportPath}}", pkg).Output()
	if err != nil {
		return "", "", fmt.Errorf("go list %s: %w", pkg, err)
	}
	dir, path, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	return dir, filepath.Base(path), nil
}

// RunGoTests runs Go test binaries of nicplug's packages as root inside a
// distribution guest of stack (see [StartDistro]): a Debian bookworm
// guest booted with Debian's own kernel, for tests that need kernel
// features the host's kernel lacks. Each test's binary is compiled on the
// host ([CompileTest]), copied with its package's testdata directory onto
// a second, read-only disk ([MakeDataDisk]) mounted in the guest, and run
// there in that copy of its package directory with -test.v over the
// command channel, one after the other. A test with GoTest.Guest finds
// the busybox guest's assets on that disk too. Their output is logged as it
// arrives, each line prefixed with the binary's name (the last element of
// the package's import path); t fails when a binary exits non-zero or a MustPass test did
// not pass. cfg may be nil; cfg.ExtraArgs gets the data disk appended (cfg
// itself is not modified).
func RunGoTests(t GoTestTB, stack Stack, cfg *Config, tests ...GoTest) {
	t.Helper()
	testenv.RequireRoot(t)
	ctx := t.Context()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "disk")
	names := make([]string, len(tests))
	start := time.Now()
	for i, gt := range tests {
		dir, base, err := packageDir(ctx, gt.Pkg)
		if err != nil {
			t.Fatalf("guest: %v", err)
		}
		names[i] = base
		if slices.Contains(names[:i], base) {
			names[i] += strconv.Itoa(i)
		}
		out := filepath.Join(root, names[i])
		if err := CompileTest(ctx, gt.Pkg, filepath.Join(out, names[i]+".test")); err != nil {
			t.Fatalf("%v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "testdata")); err == nil {
			if b, err := exec.CommandContext(ctx, "cp", "-a", filepath.Join(dir, "testdata"), out).CombinedOutput(); err != nil {
				t.Fatalf("guest: copy testdata of %s: %v: %s", gt.Pkg, err, b)
			}
		}
	}
	if slices.ContainsFunc(tests, func(gt GoTest) bool { return gt.Guest }) {
		a, err := startAssets()
		if err != nil {
			t.Fatalf("guest: the busybox guest's assets for the guest's tests: %v", err)
		}
		if err := WriteAssets(a, filepath.Join(root, guestAssetsDir)); err != nil {
			t.Fatalf("%v", err)
		}
	}
	img := filepath.Join(tmp, "tests.ext4")
	if err := MakeDataDisk(ctx, root, img); err != nil {
		t.Fatalf("%v", err)
	}
	t.Logf("guest: compiled %d test binaries and their disk in %v", len(tests), time.Since(start).Round(time.Millisecond))

	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	c.ExtraArgs = append(append([]string(nil), c.ExtraArgs...), "-drive", "file="+img+",if=virtio,format=raw,readonly=on")
	start = time.Now()
	g := StartDistro(t, stack, &c)
	kernel := guestOK(t, g, "uname -r && mkdir -p "+guestTestDir+" && mount -o ro /dev/vdb "+guestTestDir)
	t.Logf("guest: booted kernel %s in %v", strings.TrimSpace(kernel), time.Since(start).Round(time.Millisecond))
	for i, gt := range tests {
		runGoTest(t, g, names[i], gt)
	}
}

// guestOK runs cmd in g and fails t unless it exits 0.
func guestOK(t GoTestTB, g *Guest, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, st, err := g.Exec(ctx, cmd)
	if err != nil || st != 0 {
		t.Fatalf("guest: %s: status %d, %v: %s", cmd, st, err, out)
	}
	return out
}

// runGoTest runs one test binary in the guest and checks its result.
func runGoTest(t GoTestTB, g *Guest, name string, gt GoTest) {
	t.Helper()
	timeout := gt.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	args := append([]string{"./" + name + ".test", "-test.v", "-test.timeout", timeout.String()}, gt.Args...)
	env := []string{testenv.CIVar + "=1"}
	if gt.Guest {
		env = append(env, AssetsVar+"="+guestTestDir+"/"+guestAssetsDir)
	}
	env = append(env, gt.Env...)
	// The guest's timeout(1) stops a hung binary before Exec gives up, so
	// that the command channel is free again and the output arrives.
	cmd := fmt.Sprintf("cd %s/%s && env %s timeout -k 5 %d %s", guestTestDir, name,
		shellJoin(env), int((timeout + 30*time.Second).Seconds()), shellJoin(args))
	ctx, cancel := context.WithTimeout(t.Context(), timeout+time.Minute)
	defer cancel()
	start := time.Now()
	out, st, err := g.ExecLines(ctx, cmd, func(line string) { t.Logf("guest %s: %s", name, line) })
	if err != nil {
		t.Errorf("guest: run %s: %v", name, err)
		return
	}
	t.Logf("guest: %s exited %d after %v", name, st, time.Since(start).Round(time.Millisecond))
	if st != 0 {
		t.Errorf("guest: %s %s failed (exit status %d)", name, strings.Join(gt.Args, " "), st)
	}
	for _, m := range missingPasses(out, gt.MustPass) {
		t.Errorf("guest: %s: %s did not pass (it skipped or did not run)", name, m)
	}
}

// missingPasses returns the names in want that no "--- PASS: NAME (" line
// of -test.v output reports.
func missingPasses(out string, want []string) []string {
	passed := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "--- PASS: "); ok {
			if name, _, ok := strings.Cut(rest, " ("); ok {
				passed[name] = true
			}
		}
	}
	var miss []string
	for _, w := range want {
		if !passed[w] {
			miss = append(miss, w)
		}
	}
	return miss
}

// shellJoin quotes words for sh.
func shellJoin(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
