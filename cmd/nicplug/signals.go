package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// interruptContext returns a context that the first SIGINT or SIGTERM
// cancels: the command stops and rolls back what it changed, within its
// --timeout margin. A second signal does not wait for that rollback: it
// prints one line naming command on stderr and calls exit with
// exitPartial, since what the command changed may then be half undone
// (host devices are recorded before they are made, and a link whose
// state is in doubt is recorded unknown, so the next command converges).
// stop releases the signals.
func interruptContext(command string, stderr io.Writer, exit func(int)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			fmt.Fprintf(stderr, "nicplug: %sinterrupted again (%v) before its rollback ended: stopped at once, so what it changed may be half undone: check with 'nicplug show'; the next update converges\n", command, sig)
			exit(exitPartial)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// commandPrefix is "COMMAND: " for the command args name, as the CLI's
// error lines start, or "" when args name none.
func commandPrefix(args []string) string {
	if len(args) > 0 {
		if c, ok := lookup(args[0]); ok {
			return c.name + ": "
		}
	}
	return ""
}
