package qemuproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// ErrExited is returned by [WaitQMP] when QEMU exits first, and by [Start]
// (wrapped, with QEMU's exit status and standard error) when QEMU exits
// before its QMP sockets answer.
var ErrExited = errors.New("qemu exited")

// pollInterval is how often WaitQMP retries.
const pollInterval = 5 * time.Millisecond

// WaitQMP waits until the QMP server on the unix socket at path answers
// qmp_capabilities, which QEMU does once its machine and devices exist, and
// disconnects (QEMU then accepts the caller's own connection). It returns
// [ErrExited] when exited is closed first, and an error wrapping ctx's when
// ctx ends first. A nil exited is never closed.
func WaitQMP(ctx context.Context, path string, exited <-chan struct{}) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var last error // the last failure not caused by ctx's end
	for {
		err := greet(ctx, path)
		if err == nil {
			return nil
		}
		if last == nil || !ended(ctx) {
			last = err
		}
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			return fmt.Errorf("qemuproc: wait for QMP on %s: %w (last error: %v)", path, ctx.Err(), last)
		case <-t.C:
		}
	}
}

// ended reports whether ctx has ended or its deadline has passed (a dial
// can fail on the deadline before ctx.Err is set).
func ended(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(dl)
}

// greet connects to QMP, negotiates capabilities and disconnects. It gives
// up when ctx ends or QEMU closes the connection.
func greet(ctx context.Context, path string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.Contains(line, `"QMP"`) {
		return fmt.Errorf("unexpected QMP greeting %q", line)
	}
	if _, err := io.WriteString(c, `{"execute":"qmp_capabilities"}`+"\n"); err != nil {
		return err
	}
	line, err = r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.Contains(line, `"return"`) {
		return fmt.Errorf("unexpected answer to qmp_capabilities: %q", line)
	}
	return nil
}
