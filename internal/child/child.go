package child

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
)

// Process is a child process started by [Start]. Its methods are safe for
// concurrent use.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's result; written before done is closed
}

// Start starts cmd (see the package doc) and returns once the process runs
// or failed to start. A goroutine waits for it; [Process.Done] is closed
// once it has been reaped. cmd.SysProcAttr may be replaced by a copy that
// adds the parent-death signal: the caller's struct is not modified.
func Start(cmd *exec.Cmd) (*Process, error) {
	if cmd == nil {
		return nil, errors.New("child: start: nil *exec.Cmd")
	}
	setDeathSignal(cmd)
	p := &Process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go p.run(started)
	if err := <-started; err != nil {
		return nil, fmt.Errorf("child: start %s: %w", cmd.Path, err)
	}
	return p, nil
}

// run forks and reaps the child on one locked OS thread: the thread whose
// exit fires the parent-death signal lives as long as the child.
func (p *Process) run(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := p.cmd.Start(); err != nil {
		started <- err
		return
	}
	started <- nil
	p.err = p.cmd.Wait()
	close(p.done)
}

// Pid returns the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns the result of the child's exec.Cmd.Wait (nil for a zero exit
// status, an *exec.ExitError otherwise) once Done is closed, nil before.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Wait waits until the child has been reaped and returns [Process.Err], or
// returns ctx's error when ctx ends first.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("child: wait for %s: %w", p.cmd.Path, ctx.Err())
	}
}

// Kill sends the child SIGKILL (which also ends a stopped child) and waits
// until it has been reaped. It is safe to call more than once, and after
// the child exited on its own.
func (p *Process) Kill() {
	// An error means the child is already gone; the waiting goroutine
	// reaps it either way.
	_ = p.cmd.Process.Kill()
	<-p.done
}
