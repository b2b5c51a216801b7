package netif

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// busyGrace is how long attaching a queue to a single-queue tap waits out
// EBUSY before reporting the tap attached. A queue this process closed a
// moment ago can still be attached: a child forked by any goroutine before
// the close holds a copy of the file until its execve drops close-on-exec
// files. With two goroutines forking, a close followed at once by a reopen
// hit that in 1 of ~300 tries here, and the copy lived up to 9 ms; a
// second covers a loaded machine, and an attacher that really holds the
// tap (a QEMU) is reported after it.
const busyGrace = time.Second

// busyPoll bounds the wait between two attempts.
const busyPoll = 50 * time.Millisecond

// tunAttach is tunSetIff for attaching a queue to an existing tap: EBUSY
// (the tap is single-queue and a queue is attached) is retried for
// busyGrace, or until ctx ends; the error returned then wraps EBUSY (and
// ctx's error). Other errors return at once. It needs no namespace: TUNSETIFF looks the name up in
// the namespace fd was opened in.
func tunAttach(ctx context.Context, fd int, name string, flags uint16) error {
	deadline := time.Now().Add(busyGrace)
	wait := time.Millisecond
	for {
		err := tunSetIff(fd, name, flags)
		if !errors.Is(err, unix.EBUSY) || flags&unix.IFF_TUN_EXCL != 0 {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%w, still after %v", err, busyGrace)
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w, waiting ended: %w", err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, busyPoll)
	}
}
