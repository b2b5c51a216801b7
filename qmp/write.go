package qmp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// aLongTimeAgo is a deadline in the past: setting it interrupts a blocked
// write at once.
var aLongTimeAgo = time.Unix(1, 0)

// write sends one command line (and its ancillary data) while respecting
// ctx, both for waiting on other writers and for the write itself: a
// stopped QEMU whose socket buffer is full cannot hang the caller.
//
// If ctx ends before any byte went out, write returns ctx.Err() and the
// client stays usable. If it ends after a part went out, the stream is
// corrupt: the connection is closed. Any other write error closes it too.
func (c *Client) write(ctx context.Context, b, oob []byte) error {
	select {
	case c.wlock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.closedErr()
	}
	defer func() { <-c.wlock }()
	if err := ctx.Err(); err != nil {
		return err
	}

	var stop func() bool
	var fired chan struct{}
	if ctx.Done() != nil {
		fired = make(chan struct{})
		stop = context.AfterFunc(ctx, func() {
			_ = c.conn.SetWriteDeadline(aLongTimeAgo)
			close(fired)
		})
	}
	n, err := c.writeAll(b, oob)
	if stop != nil && !stop() {
		// The deadline was (or is being) set: wait, then clear it for the
		// next writer. We still hold wlock, so nobody writes meanwhile.
		<-fired
		_ = c.conn.SetWriteDeadline(time.Time{})
	}
	if err == nil {
		return nil
	}
	interrupted := errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil
	switch {
	case interrupted && n == 0:
		return ctx.Err()
	case interrupted:
		cause := fmt.Errorf("command interrupted after %d of %d bytes", n, len(b))
		c.abort(cause)
		return fmt.Errorf("%w; %w", ctx.Err(), &closedError{cause: cause})
	default:
		c.abort(fmt.Errorf("write: %w", err))
		return c.closedErr()
	}
}

// writeAll writes b, with oob attached to the first sendmsg, and returns
// how many bytes of b went out.
func (c *Client) writeAll(b, oob []byte) (int, error) {
	if len(oob) == 0 {
		return c.conn.Write(b)
	}
	n, _, err := c.conn.WriteMsgUnix(b, oob, nil)
	if err != nil || n == len(b) {
		return n, err
	}
	m, err := c.conn.Write(b[n:])
	return n + m, err
}
