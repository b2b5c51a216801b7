package qmp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
)

// Client is a connection to one QEMU monitor (QMP). It is safe for
// concurrent use by many goroutines. Create it with [Dial] or [New] and
// release it with [Client.Close].
type Client struct {
	conn    *net.UnixConn
	log     *slog.Logger
	evbuf   int
	maxLine int

	// version and caps are written by the reader goroutine before greeted
	// is closed and never after.
	version Version
	caps    []string
	greeted chan struct{}

	// wlock is a one-token semaphore serializing writes; acquiring it
	// respects a context, which a sync.Mutex cannot.
	wlock chan struct{}

	mu sync.Mutex
	// pending maps the id of every command whose reply is still due to
	// the channel the reply goes to, or to nil when the caller gave up
	// (the late reply is discarded). An id is reused only once its reply
	// arrived. Guarded by mu; nil once the connection is closed.
	pending map[uint64]chan reply
	// subs and watchers receive events; guarded by mu. Both are nil once
	// the connection is closed.
	subs     map[*Subscription]struct{}
	watchers map[*Watcher]struct{}
	// noise counts the lines received that are not QMP messages, and
	// lastNoise is the start of the last one; guarded by mu.
	noise     uint64
	lastNoise string
	// fence is the id of the handshake's qmp_capabilities while its reply
	// is due, 0 after: every reply before it is a previous client's (see
	// [New]). Guarded by mu.
	fence uint64
	// cause is the first reason recorded for closing the connection;
	// guarded by mu.
	cause error
	// closed is the error every call returns once the connection is
	// closed; guarded by mu, set together with done being closed.
	closed error

	done       chan struct{} // closed once the connection is closed
	readerDone chan struct{} // closed when the reader goroutine has exited
}

// reply is what the reader hands to a waiting Execute.
type reply struct {
	ret json.RawMessage
	err *wireError
	// closed is set instead when the connection closed first.
	closed error
	// bad is set instead when the reply was malformed (a *malformedError).
	bad error
}

// Dial connects to the QMP unix socket at path, reads QEMU's greeting and
// negotiates capabilities with qmp_capabilities. ctx bounds the whole
// handshake; cfg may be nil for defaults.
func Dial(ctx context.Context, path string, cfg *Config) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, &OpError{Op: "dial", Err: notSocket(path, err)}
	}
	return New(ctx, conn.(*net.UnixConn), cfg)
}

// New runs the QMP handshake on an already connected unix socket, for
// example one end of a socketpair given to QEMU with -chardev socket,fd=N.
// The Client owns conn from then on, also when New fails (conn is closed).
func New(ctx context.Context, conn *net.UnixConn, cfg *Config) (*Client, error) {
	if conn == nil {
		return nil, &OpError{Op: "new", Err: errors.New("nil connection")}
	}
	c := &Client{
		conn:       conn,
		log:        cfg.logger(),
		evbuf:      cfg.eventBuffer(),
		maxLine:    cfg.maxLine(),
		greeted:    make(chan struct{}),
		wlock:      make(chan struct{}, 1),
		pending:    make(map[uint64]chan reply),
		subs:       make(map[*Subscription]struct{}),
		watchers:   make(map[*Watcher]struct{}),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	go c.readLoop()
	select {
	case <-c.greeted:
	case <-c.done:
		c.Close()
		return nil, &OpError{Op: "greeting", Err: c.closedErr()}
	case <-ctx.Done():
		c.Close()
		return nil, &OpError{Op: "greeting", Err: ctx.Err()}
	}
	var args any
	if cfg != nil && len(cfg.Enable) > 0 {
		args = map[string]any{"enable": cfg.Enable}
	}
	if err := c.handshake(ctx, args); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// handshake runs qmp_capabilities under a random id that fences off what
// a previous client left behind. QEMU 10.0 hands the reply to a command
// still running when its client went away to the monitor's next client
// (7.2 drops it): before the greeting or after it, before the reply to
// anything the new client sent, and with the old client's id, which may
// well be one this client uses too. Every reply before the fence's is such
// a leftover and is discarded.
func (c *Client) handshake(ctx context.Context, args any) error {
	const command = "qmp_capabilities"
	msg, err := encodeCommand(command, args)
	if err != nil {
		return &OpError{Op: command, Err: err}
	}
	call := &Call{c: c, command: command, ch: make(chan reply, 1), id: rand.Uint64()>>1 | 1<<62}
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		return &OpError{Op: command, Err: c.closedErr()}
	}
	c.fence = call.id
	c.pending[call.id] = call.ch
	c.mu.Unlock()
	if err := c.write(ctx, appendID(msg, call.id), nil); err != nil {
		return &OpError{Op: command, Err: err}
	}
	_, err = call.Wait(ctx)
	return err
}

// Version returns the QEMU version from the greeting.
func (c *Client) Version() Version { return c.version }

// Capabilities returns the capabilities QEMU offered in its greeting (for
// QEMU 7.2: ["oob"]). They are offered, not enabled; see [Config.Enable].
func (c *Client) Capabilities() []string { return slices.Clone(c.caps) }

// Done returns a channel that is closed once the connection is closed, by
// [Client.Close] or because QEMU went away.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil while the connection is open and afterwards an error that
// matches [ErrClosed] and wraps the reason (io.EOF when QEMU closed it).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed == nil {
		return nil
	}
	return &OpError{Err: c.closed}
}

// Close closes the connection. Pending and later calls fail with an error
// matching [ErrClosed], subscriptions' channels are closed and watchers
// fail. Close returns after the client's goroutines have exited. It may be
// called more than once; only the first call returns an error from closing
// the socket.
func (c *Client) Close() error {
	err := c.abort(errClientClosed)
	<-c.readerDone
	return newOpError("close", err)
}

// abort records cause as the reason for closing (first one wins) and
// closes the socket, which makes the reader goroutine shut everything down.
func (c *Client) abort(cause error) error {
	c.mu.Lock()
	first := c.cause == nil
	if first {
		c.cause = cause
	}
	c.mu.Unlock()
	if !first {
		return nil
	}
	return c.conn.Close()
}

// shutdown runs once on the reader goroutine when reading stops.
func (c *Client) shutdown(readErr error) {
	c.mu.Lock()
	if c.cause == nil {
		c.cause = readErr
	}
	closed := &closedError{cause: c.cause}
	c.closed = closed
	for _, ch := range c.pending {
		if ch != nil {
			ch <- reply{closed: closed}
		}
	}
	for s := range c.subs {
		s.stopCtx()
		close(s.ch)
	}
	watchers := c.watchers
	c.pending, c.subs, c.watchers = nil, nil, nil
	close(c.done)
	c.mu.Unlock()
	for w := range watchers {
		w.finish(Event{}, closed)
	}
	c.conn.Close()
}

func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed != nil {
		return c.closed
	}
	return &closedError{cause: c.cause}
}

// noteNoise records a line that is not a QMP message, for the error of a
// command that then gets no reply.
func (c *Client) noteNoise(line []byte) {
	c.mu.Lock()
	c.noise++
	c.lastNoise = truncate(line)
	c.mu.Unlock()
}

// noiseSince returns the number of noise lines recorded so far, and the
// last one.
func (c *Client) noiseSince() (uint64, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.noise, c.lastNoise
}

// notSocket explains a failed dial of path that is not a socket: connecting
// to a regular file says "connection refused", which misleads.
func notSocket(path string, err error) error {
	fi, serr := os.Stat(path)
	if serr != nil || fi.Mode()&os.ModeSocket != 0 {
		return err
	}
	what := "a regular file"
	switch {
	case fi.IsDir():
		what = "a directory"
	case fi.Mode()&os.ModeNamedPipe != 0:
		what = "a named pipe"
	case fi.Mode()&os.ModeDevice != 0:
		what = "a device"
	case !fi.Mode().IsRegular():
		what = "not a regular file"
	}
	return fmt.Errorf("%s is not a socket (%s): %w", path, what, err)
}
