//go:build unix

package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// silentFIFO makes a FIFO that a writer holds open and never writes to,
// as `<(sleep 100)` is: reading it blocks until the test ends.
func silentFIFO(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(path, os.O_RDWR|unix.O_NONBLOCK, 0) // O_RDWR: open without waiting for a reader
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return path
}

// silentMonitor is a unix socket nothing answers on: a command takes its
// VM's lock beside it.
func silentMonitor(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nppipe")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "qmp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); os.RemoveAll(dir) })
	return sock
}

// TestPipeInputTimeout (issue 13): an input file that is a pipe whose
// writer never writes is read within --timeout: the command fails with
// one line (exit 1, as any other timeout) instead of hanging.
func TestPipeInputTimeout(t *testing.T) {
	sock := silentMonitor(t)
	const td = "testdata/"
	for _, tt := range []struct {
		name string
		args func(fifo string) []string
	}{
		{"update IFACE.xml", func(f string) []string {
			return []string{"update", "--qmp", sock, "--timeout", "1s", "--domain", td + "domain.xml", f}
		}},
		{"update DOMAIN.xml", func(f string) []string {
			return []string{"update", "--qmp", sock, "--timeout", "1s", "--domain", f, td + "iface-user.xml"}
		}},
		{"update without domain", func(f string) []string { return []string{"update", "--qmp", sock, "--timeout", "1s", f} }},
		{"plan", func(f string) []string {
			return []string{"plan", "--qmp", sock, "--timeout", "1s", "--domain", td + "domain.xml", f}
		}},
		{"plan --from", func(f string) []string {
			return []string{"plan", "--timeout", "1s", "--from", td + "domain.xml", f}
		}},
		{"start", func(f string) []string { return []string{"start", "--qmp", sock, "--timeout", "1s", f} }},
		{"show", func(f string) []string { return []string{"show", "--qmp", sock, "--timeout", "1s", "--domain", f} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fifo := silentFIFO(t, "in.xml")
			r := runWithin(t, 60*time.Second, tt.args(fifo)...)
			if r.code != exitFailed {
				t.Errorf("exit %d, want %d: %s", r.code, exitFailed, r.stderr)
			}
			checkOneLine(t, r.stderr)
			if want := fifo + ": reading: context deadline exceeded (raise --timeout)"; !strings.Contains(r.stderr, want) {
				t.Errorf("stderr %q lacks %q", r.stderr, want)
			}
		})
	}
}

// runWithin runs the CLI in-process and fails the test if it has not
// ended after d (a hang, not a slow machine).
func runWithin(t *testing.T, d time.Duration, args ...string) cmdResult {
	t.Helper()
	res := make(chan cmdResult, 1)
	go func() {
		code, stdout, stderr := runCmd(t, args...)
		res <- cmdResult{code: code, stdout: stdout, stderr: stderr}
	}()
	select {
	case r := <-res:
		return r
	case <-time.After(d):
		t.Fatalf("%v still running after %v", args, d)
		return cmdResult{}
	}
}

// TestPipeInputInterrupt (issue 13): while a command waits for an input
// file that is a silent pipe it does not hold the VM's lock (inputs are
// read before the lock is taken), and SIGINT stops it (exit 1, one line).
func TestPipeInputInterrupt(t *testing.T) {
	sock := silentMonitor(t)
	for _, tt := range []struct {
		name string
		args func(fifo string) []string
	}{
		{"IFACE.xml", func(f string) []string {
			return []string{"update", "--qmp", sock, "--domain", "testdata/domain.xml", f}
		}},
		{"DOMAIN.xml", func(f string) []string { return []string{"start", "--qmp", sock, f} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fifo := silentFIFO(t, "in.xml")
			cmd, res := startCLI(t, tt.args(fifo)...)
			waitOpened(t, cmd.Process.Pid, fifo, res)
			lf, err := openLockFile(lockPath(sock))
			if err != nil {
				t.Fatal(err)
			}
			locked, err := tryLock(lf)
			if err != nil {
				t.Fatal(err)
			}
			lf.Close() // drops the lock if this test took it
			if !locked {
				t.Error("the command holds the VM's lock while it waits for its input")
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			r := waitResult(t, res, 60*time.Second, "SIGINT while reading a silent pipe")
			if r.code != exitFailed {
				t.Errorf("exit %d, want %d: %s", r.code, exitFailed, r.stderr)
			}
			checkOneLine(t, r.stderr)
			if want := fifo + ": reading: context canceled"; !strings.Contains(r.stderr, want) {
				t.Errorf("stderr %q lacks %q", r.stderr, want)
			}
		})
	}
}

// waitOpened waits until process pid has the file at path open.
func waitOpened(t *testing.T, pid int, path string, res <-chan cmdResult) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case r := <-res:
			t.Fatalf("the command ended before it opened %s: exit %d: %s", path, r.code, r.stderr)
		default:
		}
		fds, _ := os.ReadDir(dir)
		for _, fd := range fds {
			if target, _ := os.Readlink(filepath.Join(dir, fd.Name())); target == path {
				return
			}
		}
	}
	t.Fatalf("process %d did not open %s", pid, path)
}
