package netif

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestIntegrationOpenTapWhileForking: closing a single-queue tap's queue
// and opening it again at once, while other goroutines fork and exec,
// always succeeds. Without the EBUSY grace about 1 reopen in 300 failed:
// a child forked before the close held the queue until its exec.
func TestIntegrationOpenTapWhileForking(t *testing.T) {
	n := newTestNetns(t)
	ctx := ctxT(t)
	n.ip(t, "tuntap", "add", "dev", "tapfk", "mode", "tap")
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip("test needs the true command to fork and exec: ", err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var forks atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if exec.Command(truePath).Run() == nil {
					forks.Add(1)
				}
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
	const reopens = 3000
	for i := range reopens {
		files, err := OpenTap(ctx, n.Path, "tapfk", nil)
		if err != nil {
			t.Fatalf("reopen %d of %d (after %d forks): %v", i+1, reopens, forks.Load(), err)
		}
		files[0].Close()
	}
	t.Logf("%d reopens beside %d forks", reopens, forks.Load())
}

// TestIntegrationOpenTapBusy: a queue closed within the grace is waited
// for; one held past it, or past the context, is reported as attached
// (unix.EBUSY), leaving nothing open.
func TestIntegrationOpenTapBusy(t *testing.T) {
	n := newTestNetns(t)
	ctx := ctxT(t)
	n.ip(t, "tuntap", "add", "dev", "tapby", "mode", "tap")
	hold := func() *os.File {
		t.Helper()
		files, err := OpenTap(ctx, n.Path, "tapby", nil)
		if err != nil {
			t.Fatal(err)
		}
		return files[0]
	}

	released := hold()
	timer := time.AfterFunc(busyGrace/10, func() { released.Close() })
	files, err := OpenTap(ctx, n.Path, "tapby", nil)
	if err != nil {
		t.Fatalf("queue released within the grace: %v", err)
	}
	timer.Stop()
	files[0].Close()

	held := hold()
	defer held.Close()
	fds := openFDs(t)
	start := time.Now()
	_, err = OpenTap(ctx, n.Path, "tapby", nil)
	waited := time.Since(start)
	if !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), `tap "tapby" is single-queue and already attached`) ||
		!strings.Contains(err.Error(), "still after "+busyGrace.String()) {
		t.Errorf("queue held past the grace: %v, want EBUSY naming the tap and the grace", err)
	}
	if waited < busyGrace {
		t.Errorf("gave up after %v, before the %v grace", waited, busyGrace)
	}
	short, cancel := context.WithTimeout(ctx, busyGrace/10)
	defer cancel()
	_, err = OpenTap(short, n.Path, "tapby", nil)
	if !errors.Is(err, unix.EBUSY) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("context ended while waiting: %v, want EBUSY and the context's error", err)
	}
	checkNoNewFDs(t, fds, "busy opens")
}
