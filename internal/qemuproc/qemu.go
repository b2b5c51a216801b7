package qemuproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nicplug/nicplug/internal/child"
)

// stderrKeep is how much of QEMU's standard error a QEMU keeps.
const stderrKeep = 64 << 10

// Config configures [Start]. A nil *Config means defaults.
type Config struct {
	// Binary is the emulator. Empty means [Binary] ($NICPLUG_QEMU or
	// qemu-system-x86_64), looked up in PATH.
	Binary string
	// Accel is the -machine accel property. Empty means "tcg".
	Accel string
	// Sockets is how many QMP monitors QEMU serves, each on its own unix
	// socket. Zero means one.
	Sockets int
	// Socket is the path of the first QMP socket. Empty means qmp0.sock in
	// the process's temporary directory, like the others.
	Socket string
	// Args are appended to QEMU's arguments: devices, netdevs, more
	// monitors.
	Args []string
	// Stderr, when set, also receives QEMU's standard error (which the
	// QEMU keeps the end of anyway, see QEMU.Stderr).
	Stderr io.Writer
	// ExtraFiles are inherited by QEMU as fds 3, 4, … (exec.Cmd's
	// ExtraFiles): the queues of fixed taps, say. The caller may close
	// them once Start returned.
	ExtraFiles []*os.File
}

// QEMU is a running guest-less QEMU started by [Start]. Its methods are
// safe for concurrent use.
type QEMU struct {
	// Sockets are the paths of the QMP sockets, in command-line order.
	Sockets []string
	// Cmd is the process (to signal it: Cmd.Process.Signal).
	Cmd *exec.Cmd
	// Stderr holds the last 64 KiB QEMU wrote to its standard error.
	Stderr *child.Tail

	proc     *child.Process
	dir      string // temporary directory, removed by Kill
	killOnce sync.Once
}

// Start starts QEMU as the package doc says and waits until its QMP
// sockets answer, or QEMU exits, or ctx ends. On error nothing is left
// behind: no process, no files.
func Start(ctx context.Context, cfg *Config) (_ *QEMU, err error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.Sockets < 0 {
		return nil, fmt.Errorf("qemuproc: %d QMP sockets", cfg.Sockets)
	}
	bin := cfg.Binary
	if bin == "" {
		bin = Binary()
	}
	bin, err = exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("qemuproc: %w", err)
	}
	accel := cfg.Accel
	if accel == "" {
		accel = "tcg"
	}
	dir, err := os.MkdirTemp("", "nicplug-qemu-")
	if err != nil {
		return nil, fmt.Errorf("qemuproc: %w", err)
	}
	q := &QEMU{dir: dir, Stderr: child.NewTail(stderrKeep)}
	defer func() {
		if err != nil {
			q.Kill()
		}
	}()
	args := []string{"-S", "-nodefaults", "-display", "none", "-machine", "q35,accel=" + accel, "-m", "64"}
	for i := range max(cfg.Sockets, 1) {
		s := filepath.Join(dir, fmt.Sprintf("qmp%d.sock", i))
		if i == 0 && cfg.Socket != "" {
			s = cfg.Socket
		}
		q.Sockets = append(q.Sockets, s)
		args = append(args, "-qmp", "unix:"+s+",server=on,wait=off")
	}
	q.Cmd = exec.Command(bin, append(args, cfg.Args...)...)
	q.Cmd.Stderr = q.Stderr
	q.Cmd.ExtraFiles = cfg.ExtraFiles
	if cfg.Stderr != nil {
		q.Cmd.Stderr = io.MultiWriter(q.Stderr, cfg.Stderr)
	}
	if q.proc, err = child.Start(q.Cmd); err != nil {
		return nil, fmt.Errorf("qemuproc: %w", err)
	}
	for _, s := range q.Sockets {
		err := WaitQMP(ctx, s, q.proc.Done())
		if errors.Is(err, ErrExited) {
			return nil, fmt.Errorf("qemuproc: %w before its QMP socket was ready (%v): %s",
				ErrExited, q.proc.Err(), strings.TrimSpace(q.Stderr.String()))
		}
		if err != nil {
			return nil, err
		}
	}
	return q, nil
}

// Socket returns the path of the first QMP socket.
func (q *QEMU) Socket() string { return q.Sockets[0] }

// Pid returns QEMU's process id.
func (q *QEMU) Pid() int { return q.proc.Pid() }

// Done is closed once QEMU has exited and been reaped.
func (q *QEMU) Done() <-chan struct{} { return q.proc.Done() }

// Err returns QEMU's exit status (exec.Cmd.Wait's error) once Done is
// closed, nil before.
func (q *QEMU) Err() error { return q.proc.Err() }

// Wait waits until QEMU has exited and returns [QEMU.Err], or returns
// ctx's error when ctx ends first.
func (q *QEMU) Wait(ctx context.Context) error {
	select {
	case <-q.proc.Done():
		return q.proc.Err()
	case <-ctx.Done():
		return fmt.Errorf("qemuproc: wait for qemu: %w", ctx.Err())
	}
}

// Kill kills QEMU (stopped or not), waits until it has been reaped and
// removes its temporary directory and its QMP socket files. It is safe to
// call more than once.
func (q *QEMU) Kill() {
	q.killOnce.Do(func() {
		if q.proc != nil {
			q.proc.Kill()
		}
		// A killed QEMU leaves its socket files behind.
		for _, s := range q.Sockets {
			if fi, err := os.Lstat(s); err == nil && fi.Mode().Type() == os.ModeSocket {
				os.Remove(s)
			}
		}
		os.RemoveAll(q.dir)
	})
}
