package lab

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"

	"github.com/nicplug/nicplug/internal/guest"
)

// Boot boots a guest with [guest.Boot] from a goroutine locked to its OS
// thread until QEMU exits, so that the thread that forked QEMU (whose exit
// fires QEMU's Pdeathsig) is never handed to code that ends threads, such as
// package netif's namespace switching. Close the guest as usual.
func Boot(ctx context.Context, cfg *guest.Config) (*guest.Guest, error) {
	type result struct {
		g   *guest.Guest
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		g, err := guest.Boot(ctx, cfg)
		ch <- result{g, err}
		if err == nil {
			<-g.Done()
		}
	}()
	r := <-ch
	if r.err != nil {
		return nil, fmt.Errorf("lab: %w", r.err)
	}
	return r.g, nil
}

// startLocked starts cmd from a goroutine locked to its OS thread until the
// process has been reaped (see Boot), and returns a channel that receives
// cmd.Wait's result.
func startLocked(cmd *exec.Cmd) (<-chan error, error) {
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return done, nil
}
