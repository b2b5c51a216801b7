package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// QEMU is a guest-less qemu-system-x86_64 started for a test with
// `-S -nodefaults -display none -machine q35,accel=tcg -qmp unix:…`.
type QEMU struct {
	// Socket is the path of the QMP unix socket.
	Socket string
	// Cmd is the running process.
	Cmd *exec.Cmd
	// Stderr collects the process's standard error.
	Stderr *bytes.Buffer

	waitOnce sync.Once
	waitErr  error
	done     chan struct{}
}

// StartQEMU starts a guest-less QEMU with extra arguments appended and waits
// until its QMP socket accepts connections. The process is killed and reaped
// in t.Cleanup. It skips (or fails under CI) when QEMU is not installed.
func StartQEMU(t testing.TB, extra ...string) *QEMU {
	t.Helper()
	bin := RequireQEMU(t)
	dir, err := os.MkdirTemp("", "nicplug-qemu-")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	sock := filepath.Join(dir, "qmp.sock")
	args := []string{
		"-S", "-nodefaults", "-nographic", "-display", "none",
		"-machine", "q35,accel=tcg", "-m", "64",
		"-qmp", "unix:" + sock + ",server=on,wait=off",
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	q := &QEMU{Socket: sock, Cmd: cmd, Stderr: &stderr, done: make(chan struct{})}
	// Pdeathsig fires when the OS thread that forked QEMU exits, not the
	// process. Go destroys threads whose goroutine exits while locked
	// (netns code does that on purpose), and such a goroutine can run on
	// the thread that forked QEMU: fork from a thread of our own, locked
	// until QEMU has exited.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			q.wait()
			close(q.done)
		}
	}()
	if err := <-started; err != nil {
		os.RemoveAll(dir)
		t.Fatalf("testenv: start qemu: %v", err)
	}
	t.Cleanup(func() {
		q.Kill()
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			return q
		}
		select {
		case <-q.done:
			t.Fatalf("testenv: qemu exited before its QMP socket was ready: %v\n%s", q.waitErr, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: qemu QMP socket %s not ready after 20s: %v", sock, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (q *QEMU) wait() error {
	q.waitOnce.Do(func() { q.waitErr = q.Cmd.Wait() })
	return q.waitErr
}

// Kill kills QEMU with SIGKILL and waits until it has been reaped.
func (q *QEMU) Kill() {
	if q.Cmd.Process != nil {
		_ = q.Cmd.Process.Signal(syscall.SIGCONT)
		_ = q.Cmd.Process.Kill()
	}
	<-q.done
}

// Done is closed when the QEMU process has exited.
func (q *QEMU) Done() <-chan struct{} { return q.done }

// Wait waits for QEMU to exit or ctx to end.
func (q *QEMU) Wait(ctx context.Context) error {
	select {
	case <-q.done:
		return q.waitErr
	case <-ctx.Done():
		return fmt.Errorf("testenv: wait for qemu: %w", ctx.Err())
	}
}
