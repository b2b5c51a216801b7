package qmp

import (
	"context"
	"encoding/json"
	"os"
	"sync/atomic"
)

// Execute runs one QMP command and returns its "return" value.
//
// args is encoded with encoding/json and must encode as a JSON object (a
// map, a struct, a json.RawMessage); nil sends no "arguments". Each command
// carries an "id" and its reply is matched by it, so concurrent calls never
// see each other's replies. An id is unique among the commands whose reply
// is due, including abandoned ones, and is reused once its reply arrived:
// QEMU reads the monitor one byte at a time, each costing microseconds, so
// the client keeps ids short (usually one digit).
//
// files travel as SCM_RIGHTS ancillary data in the same sendmsg as the
// command's JSON, which is what getfd (and add-fd) expect; no QMP
// capability is needed. Execute sends duplicates, the caller keeps
// ownership of files and may close them once Execute returns.
//
// A QMP error reply is returned as a [*CommandError]. When ctx ends first,
// Execute returns promptly with an [*OpError] wrapping ctx.Err() and the
// client stays usable: a late reply is discarded. (QEMU may still run the
// command.) If the monitor meanwhile sent lines that are not QMP messages,
// that error also matches [ErrNotQMP] and quotes the last one, cut. If ctx ends while the command was only partly written, the
// stream can't be resynchronized and the connection is closed. After the
// connection closed, the error matches [ErrClosed].
func (c *Client) Execute(ctx context.Context, command string, args any, files ...*os.File) (json.RawMessage, error) {
	call, err := c.start(ctx, command, args, files)
	if err != nil {
		return nil, err
	}
	return call.Wait(ctx)
}

// Call is a command sent by [Client.Start] whose reply is still to be
// collected with [Call.Wait].
type Call struct {
	c           *Client
	command     string
	id          uint64
	ch          chan reply
	noiseBefore uint64
	waited      atomic.Bool
}

// Start sends one command, as [Client.Execute] does, and returns once it
// is written, without waiting for its reply: collect that with
// [Call.Wait]. A reply never collected is discarded when it arrives.
//
// QEMU runs the in-band commands of one monitor one after the other, in
// the order it reads them, and runs each whatever the previous ones
// returned. So Start lets a caller queue a command behind another whose
// reply it has not seen yet (undoing it if that reply says it should not
// have run), or do other work while QEMU runs a command, and spend no
// round trip waiting in between. QEMU reads every byte anyway: the
// commands themselves cost as much as with Execute.
func (c *Client) Start(ctx context.Context, command string, args any) (*Call, error) {
	return c.start(ctx, command, args, nil)
}

func (c *Client) start(ctx context.Context, command string, args any, files []*os.File) (*Call, error) {
	if err := ctx.Err(); err != nil {
		return nil, &OpError{Op: command, Err: err}
	}
	msg, err := encodeCommand(command, args)
	if err != nil {
		return nil, &OpError{Op: command, Err: err}
	}
	var oob []byte
	if len(files) > 0 {
		rights, release, err := unixRights(files)
		if err != nil {
			return nil, &OpError{Op: command, Err: err}
		}
		defer release()
		oob = rights
	}

	call := &Call{c: c, command: command, ch: make(chan reply, 1)}
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		return nil, &OpError{Op: command, Err: c.closedErr()}
	}
	call.id = c.allocID()
	c.pending[call.id] = call.ch
	call.noiseBefore = c.noise
	c.mu.Unlock()
	msg = appendID(msg, call.id)

	if err := c.write(ctx, msg, oob); err != nil {
		// Nothing was sent, or the connection is being closed: no reply
		// can come, the id is free.
		if !c.forget(call.id, false) {
			// The connection closed meanwhile and answered ch.
			<-call.ch
		}
		return nil, &OpError{Op: command, Err: err}
	}
	return call, nil
}

// Done reports whether Wait returned already or would return at once: the
// reply arrived, or the connection closed.
func (call *Call) Done() bool {
	if call.waited.Load() || len(call.ch) > 0 {
		return true
	}
	select {
	case <-call.c.done:
		return true
	default:
		return false
	}
}

// Wait returns the command's "return" value, or its error, as
// [Client.Execute] does; when ctx ends first, the late reply is discarded.
// Call it once.
func (call *Call) Wait(ctx context.Context) (json.RawMessage, error) {
	defer call.waited.Store(true)
	c := call.c
	select {
	case r := <-call.ch:
		return r.result(call.command)
	case <-ctx.Done():
		if c.forget(call.id, true) {
			err := ctx.Err()
			if n, last := c.noiseSince(); n > call.noiseBefore {
				err = &noiseError{cause: err, lines: n - call.noiseBefore, last: last}
			}
			return nil, &OpError{Op: call.command, Err: err}
		}
		// The reply (or the close) won the race: it is in ch.
		return (<-call.ch).result(call.command)
	}
}

// allocID returns the smallest id no command in c.pending uses. Called with
// c.mu held.
func (c *Client) allocID() uint64 {
	for id := uint64(1); ; id++ {
		if _, used := c.pending[id]; !used {
			return id
		}
	}
}

// forget stops waiting for the reply to id and reports whether it was still
// due (false means a reply or the close notification is in its channel).
// With replyDue the id stays reserved until QEMU's late reply arrives, so it
// cannot be matched to a newer command.
func (c *Client) forget(id uint64, replyDue bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.pending[id]; !ok || ch == nil {
		return false
	}
	if replyDue {
		c.pending[id] = nil
	} else {
		delete(c.pending, id)
	}
	return true
}

func (r reply) result(command string) (json.RawMessage, error) {
	switch {
	case r.closed != nil:
		return nil, &OpError{Op: command, Err: r.closed}
	case r.bad != nil:
		return nil, &OpError{Op: command, Err: r.bad}
	case r.err != nil:
		return nil, &CommandError{Command: command, Class: r.err.Class, Desc: r.err.Desc}
	default:
		return r.ret, nil
	}
}
