package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// qemuBinary is the emulator every part runs.
const qemuBinary = "qemu-system-x86_64"

// qemuProc is a guest-less QEMU: `-S -nodefaults -display none -machine
// q35,accel=tcg -m 64`, its QMP socket(s) in a temporary directory.
type qemuProc struct {
	dir     string
	sockets []string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// startQEMU starts a paused guest-less QEMU with nsock QMP sockets and
// extra arguments and waits until every socket accepts connections.
func startQEMU(ctx context.Context, nsock int, extra ...string) (*qemuProc, error) {
	bin, err := exec.LookPath(qemuBinary)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	dir, err := os.MkdirTemp("", "nicplug-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	q := &qemuProc{dir: dir, done: make(chan struct{})}
	args := []string{"-S", "-nodefaults", "-display", "none", "-machine", "q35,accel=tcg", "-m", "64"}
	for i := range max(nsock, 1) {
		s := filepath.Join(dir, fmt.Sprintf("qmp%d.sock", i))
		q.sockets = append(q.sockets, s)
		args = append(args, "-qmp", "unix:"+s+",server=on,wait=off")
	}
	args = append(args, extra...)
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer stderr.Close()
	q.cmd = exec.Command(bin, args...)
	q.cmd.Stderr = stderr
	q.cmd.SysProcAttr = deathSignal()
	// The parent-death signal fires when the forking OS thread exits:
	// fork from a thread locked until QEMU has exited.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := q.cmd.Start()
		started <- err
		if err == nil {
			q.waitErr = q.cmd.Wait()
			close(q.done)
		}
	}()
	if err := <-started; err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: start qemu: %w", err)
	}
	for _, s := range q.sockets {
		for {
			c, err := net.Dial("unix", s)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-q.done:
				msg, _ := os.ReadFile(filepath.Join(dir, "stderr"))
				os.RemoveAll(dir)
				return nil, fmt.Errorf("bench: qemu exited before its QMP socket was ready: %v: %s", q.waitErr, strings.TrimSpace(string(msg)))
			case <-ctx.Done():
				q.kill()
				return nil, fmt.Errorf("bench: qemu QMP socket: %w", errors.Join(ctx.Err(), err))
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return q, nil
}

// sock returns the first QMP socket.
func (q *qemuProc) sock() string { return q.sockets[0] }

// kill kills QEMU, reaps it and removes its directory.
func (q *qemuProc) kill() {
	if q.cmd.Process != nil {
		_ = q.cmd.Process.Kill()
	}
	<-q.done
	os.RemoveAll(q.dir)
}

// qemuVersion returns the first line of `qemu-system-x86_64 --version`.
func qemuVersion() string {
	out, err := exec.Command(qemuBinary, "--version").Output()
	if err != nil {
		return "QEMU not found"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}
