package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/child"
	"github.com/nicplug/nicplug/internal/qemuproc"
)

// QEMU is a guest-less qemu-system-x86_64 started for a test with
// `-S -nodefaults -display none -machine q35,accel=tcg -m 64 -qmp unix:…`
// (see package internal/qemuproc).
type QEMU struct {
	// Socket is the path of the QMP unix socket.
	Socket string
	// Cmd is the running process.
	Cmd *exec.Cmd
	// Stderr holds the end of the process's standard error.
	Stderr *child.Tail

	q *qemuproc.QEMU
}

// startTimeout bounds StartQEMU's wait for QMP: generous, for a loaded
// machine.
const startTimeout = time.Minute

// StartQEMU starts a guest-less QEMU with extra arguments appended and waits
// until its QMP socket answers. The process is killed and reaped, and its
// files removed, in t.Cleanup. It skips (or fails under CI) when QEMU is not
// installed.
func StartQEMU(t testing.TB, extra ...string) *QEMU {
	t.Helper()
	return StartQEMUFiles(t, nil, extra...)
}

// StartQEMUFiles is [StartQEMU] with files QEMU inherits as fds 3, 4, …
// (tap queues passed with fds=…); the caller may close them once it
// returned.
func StartQEMUFiles(t testing.TB, files []*os.File, extra ...string) *QEMU {
	t.Helper()
	bin := RequireQEMU(t)
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	q, err := qemuproc.Start(ctx, &qemuproc.Config{Binary: bin, Args: extra, ExtraFiles: files})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(q.Kill)
	return &QEMU{Socket: q.Socket(), Cmd: q.Cmd, Stderr: q.Stderr, q: q}
}

// StartQEMUNetns is [StartQEMU] with QEMU running in the network namespace
// named netns (`ip netns exec`), where it opens taps by name (ifname=…).
func StartQEMUNetns(t testing.TB, netns string, extra ...string) *QEMU {
	t.Helper()
	bin := RequireQEMU(t)
	real, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	wrapper := filepath.Join(t.TempDir(), "qemu-in-netns")
	script := fmt.Sprintf("#!/bin/sh\nexec %s netns exec %s %s \"$@\"\n", ip, netns, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	q, err := qemuproc.Start(ctx, &qemuproc.Config{Binary: wrapper, Args: extra})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(q.Kill)
	return &QEMU{Socket: q.Socket(), Cmd: q.Cmd, Stderr: q.Stderr, q: q}
}

// Kill kills QEMU with SIGKILL (stopped or not), waits until it has been
// reaped and removes its files. It is safe to call more than once.
func (q *QEMU) Kill() { q.q.Kill() }

// Done is closed when the QEMU process has exited and been reaped.
func (q *QEMU) Done() <-chan struct{} { return q.q.Done() }

// Wait waits for QEMU to exit and returns its exit status, or returns an
// error wrapping ctx's when ctx ends first.
func (q *QEMU) Wait(ctx context.Context) error { return q.q.Wait(ctx) }

// versions caches QEMUVersion per binary path.
var versions sync.Map // string → domain.QEMUVersion

// QEMUVersion returns the version of the QEMU binary tests use
// ([RequireQEMU]), failing the test when it cannot be read.
func QEMUVersion(t TB) domain.QEMUVersion {
	t.Helper()
	bin := RequireQEMU(t)
	if v, ok := versions.Load(bin); ok {
		return v.(domain.QEMUVersion)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	v, err := qemuproc.Version(ctx, bin)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	versions.Store(bin, v)
	return v
}

// QEMUArgs returns dom's NIC arguments for the QEMU tests use
// ([domain.Domain.QEMUArgsFor] its [QEMUVersion]).
func QEMUArgs(t TB, dom *domain.Domain) []string {
	t.Helper()
	return QEMUArgsTaps(t, dom, nil)
}

// QEMUArgsTaps is [QEMUArgs] with the fixed taps of dom's tap-datapath
// NICs ([domain.ArgsOptions.Taps]).
func QEMUArgsTaps(t TB, dom *domain.Domain, taps map[string]domain.TapArgs) []string {
	t.Helper()
	args, err := dom.QEMUArgsFor(&domain.ArgsOptions{QEMU: QEMUVersion(t), Taps: taps})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return args
}
