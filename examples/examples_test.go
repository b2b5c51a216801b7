package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// build compiles every example once per test binary and returns the
// directory holding them.
func build(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "nicplug-examples-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(filepath.Separator),
			"./boot-unplugged", "./plug-macvtap", "./switch-networks", "./reconcile", "./full-speed")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// TestBuild keeps the examples compiling even where QEMU is missing.
func TestBuild(t *testing.T) { build(t) }

// result is what a finished example printed.
type result struct {
	code           int
	stdout, stderr string
}

// runExample runs an example to completion.
func runExample(t *testing.T, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(build(t), name), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	t.Logf("%s %s: exit %d\n%s%s", name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// checkContains fails for each want missing from out.
func checkContains(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

// checkQEMUGone checks that the QEMU an example said it started is gone.
func checkQEMUGone(t *testing.T, out string) {
	t.Helper()
	var pid int
	for _, l := range strings.Split(out, "\n") {
		if _, err := fmt.Sscanf(l, "started QEMU pid %d", &pid); err == nil {
			break
		}
	}
	if pid == 0 {
		t.Fatal("example did not say which QEMU it started")
	}
	if !strings.Contains(out, fmt.Sprintf("stopped QEMU pid %d", pid)) {
		t.Errorf("example did not stop QEMU pid %d", pid)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("QEMU pid %d still exists (kill 0: %v)", pid, err)
	}
}

func TestIntegrationBootUnplugged(t *testing.T) {
	testenv.RequireQEMU(t)
	r := runExample(t, "boot-unplugged")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	checkContains(t, r.stdout,
		"plan start boot-unplugged: 2 steps",
		`set_link {"name":"net0","up":false}`,
		"net0 52:54:00:0f:7d:ad hub 0: link down, no backend")
	checkQEMUGone(t, r.stdout)
}

func TestIntegrationSwitchNetworks(t *testing.T) {
	testenv.RequireQEMU(t)
	r := runExample(t, "switch-networks", "--announce")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	if n := strings.Count(r.stdout, "plan switch switch-networks net0: 9 steps"); n != 2 {
		t.Errorf("%d switch plans of 9 steps (with arm, announce and a carrier hold), want 2", n)
	}
	checkContains(t, r.stdout,
		"link up, user (np.net0.b1.",
		"link up, udp(127.0.0.1:47001<-127.0.0.1:47002) (np.net0.b2.",
		"link up, user (np.net0.b3.",
		"announce-self")
	checkQEMUGone(t, r.stdout)
}

func TestIntegrationFullSpeed(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireQEMU(t)
	r := runExample(t, "full-speed")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	checkContains(t, r.stdout,
		`"fds":"3:4:5:6"`,
		"plan plug full-speed net0: 3 steps",
		"tap datapath: link up, fixed tap np",
		", bridge(br0)",
		"plan switch full-speed net0: 7 steps",
		", bridge(br1)",
		"plan unplug full-speed net0: 2 steps",
		"tap datapath: link down, fixed tap np",
		"deleted the fixed tap np")
	checkQEMUGone(t, r.stdout)
}

func TestIntegrationPlugMacvtap(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireQEMU(t)
	if _, err := exec.LookPath("ip"); err != nil {
		testenv.Skip(t, "ip (iproute2) not found")
	}
	r := runExample(t, "plug-macvtap")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	checkContains(t, r.stdout,
		"plan plug plug-macvtap net0: 6 steps",
		"link up, direct(npex0,bridge) (np.net0.b1.",
		"plan unplug plug-macvtap net0: 4 steps",
		"host side: macvtap deleted",
		"deleted netns nicplug-ex")
	checkQEMUGone(t, r.stdout)
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var ns string
	fmt.Sscanf(r.stdout[strings.Index(r.stdout, "created netns "):], "created netns %s", &ns)
	if ns == "" || strings.Contains(string(out), ns) {
		t.Errorf("netns %q left behind: %s", ns, out)
	}
}

const lanUser = `<interface type='user'><alias name='ua-lan'/><model type='virtio'/></interface>`
const lanNone = `<interface type='none'><alias name='ua-lan'/><model type='virtio'/></interface>`
const wanModel = `<interface type='user'><alias name='ua-wan'/><model type='e1000'/></interface>`

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationReconcileOnce(t *testing.T) {
	testenv.RequireQEMU(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "lan.xml"), lanUser)
	r := runExample(t, "reconcile", "--dir", dir, "--once")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	checkContains(t, r.stdout, "lan.xml: plan plug reconcile ua-lan: 3 steps", "applied plug ua-lan")
	checkQEMUGone(t, r.stdout)

	// A change that cannot happen live fails the pass, the rest applies.
	writeFile(t, filepath.Join(dir, "wan.xml"), wanModel)
	r = runExample(t, "reconcile", "--dir", dir, "--once")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	checkContains(t, r.stdout, "applied plug ua-lan")
	checkContains(t, r.stderr, "wan.xml: domain: cannot modify network device model from virtio to e1000")
	checkQEMUGone(t, r.stdout)
}

// TestIntegrationReconcileWatch runs the controller loop against a QEMU it
// did not start, edits the desired file twice, and stops it.
func TestIntegrationReconcileWatch(t *testing.T) {
	testenv.RequireQEMU(t)
	dir, want := t.TempDir(), t.TempDir()
	domXML := `<domain type='qemu'><name>watch</name><devices>
<interface type='none'><mac address='52:54:00:00:00:01'/><model type='virtio'/><alias name='ua-lan'/></interface>
</devices></domain>`
	domFile := filepath.Join(dir, "domain.xml")
	writeFile(t, domFile, domXML)
	dom, err := domain.ParseDomain([]byte(domXML), nil)
	if err != nil {
		t.Fatal(err)
	}
	args, err := dom.QEMUArgs()
	if err != nil {
		t.Fatal(err)
	}
	q := testenv.StartQEMU(t, args...)

	cmd := exec.Command(filepath.Join(build(t), "reconcile"),
		"--qmp", q.Socket, "--domain", domFile, "--dir", want, "--interval", "50ms")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	waitFor := func(s string) {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("reconcile exited before printing %q:\n%s\n%s", s, strings.Join(seen, "\n"), stderr.String())
				}
				seen = append(seen, l)
				if strings.Contains(l, s) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q after 60s:\n%s", s, strings.Join(seen, "\n"))
			}
		}
	}
	waitFor("watching " + want)
	writeFile(t, filepath.Join(want, "lan.xml"), lanUser)
	waitFor("applied plug ua-lan")
	writeFile(t, filepath.Join(want, "lan.xml"), lanNone)
	waitFor("applied unplug ua-lan")

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("reconcile: %v\n%s", err, stderr.String())
	}
	select {
	case <-q.Done():
		t.Error("reconcile killed a QEMU it did not start")
	default:
	}
}
