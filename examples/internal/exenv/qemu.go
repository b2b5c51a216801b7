// Package exenv holds what the nicplug examples share: starting the
// guest-less QEMU they drive, and printing a VM's NIC wiring.
package exenv

import (
	"context"

	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// QEMU is a qemu-system-x86_64 started with -S and a QMP socket.
type QEMU struct {
	// Socket is the QMP unix socket.
	Socket string
	// Pid is the process id.
	Pid int

	cmd  *exec.Cmd
	dir  string
	done chan struct{}
	err  error
}

// StartQEMU starts bin, paused (-S) with no guest, no display and no
// default devices, with extra arguments appended (the domain's
// QEMUArgs), and waits until its QMP socket accepts connections. socket
// is where the QMP socket goes; "" means a fresh temporary directory.
func StartQEMU(ctx context.Context, bin, socket string, extra []string) (*QEMU, error) {
	q := &QEMU{done: make(chan struct{})}
	if socket == "" {
		dir, err := os.MkdirTemp("", "nicplug-example-")
		if err != nil {
			return nil, err
		}
		q.dir, socket = dir, filepath.Join(dir, "qmp.sock")
	}
	q.Socket = socket
	accel := "tcg"
	if _, err := os.Stat("/dev/kvm"); err == nil {
		accel = "kvm:tcg"
	}
	args := append([]string{
		"-S", "-nodefaults", "-display", "none", "-machine", "q35,accel=" + accel, "-m", "64",
		"-qmp", "unix:" + socket + ",server=on,wait=off",
	}, extra...)
	q.cmd = exec.Command(bin, args...)
	q.cmd.Stderr = os.Stderr
	q.cmd.SysProcAttr = sysProcAttr()
	if err := q.cmd.Start(); err != nil {
		q.removeDir()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	q.Pid = q.cmd.Process.Pid
	go func() { q.err = q.cmd.Wait(); close(q.done) }()
	for {
		c, err := net.Dial("unix", socket)
		if err == nil {
			c.Close()
			return q, nil
		}
		select {
		case <-q.done:
			q.removeDir()
			return nil, fmt.Errorf("%s exited before its QMP socket was ready: %v", bin, q.err)
		case <-ctx.Done():
			q.Stop()
			return nil, fmt.Errorf("wait for QMP socket %s: %w", socket, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop kills QEMU, waits until it is gone and removes the temporary
// directory.
func (q *QEMU) Stop() {
	_ = q.cmd.Process.Kill()
	<-q.done
	q.removeDir()
}

// Done is closed when QEMU has exited.
func (q *QEMU) Done() <-chan struct{} { return q.done }

func (q *QEMU) removeDir() {
	if q.dir != "" {
		os.RemoveAll(q.dir)
	}
}
