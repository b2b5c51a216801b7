package qmp

import (
	"context"
	"encoding/json"
)

// Command is one command of a pipeline ([Client.ExecutePipelined]).
type Command struct {
	// Name is the QMP command.
	Name string
	// Args are its arguments, encoded as [Client.Execute] encodes them.
	Args any
}

// Reply is one pipelined command's outcome: what [Client.Execute] would
// have returned for it.
type Reply struct {
	// Return is the command's "return" value; nil on error.
	Return json.RawMessage
	// Err is the command's error (a [*CommandError] for a QMP error
	// reply, an [*OpError] otherwise); nil on success.
	Err error
}

// ExecutePipelined sends cmds in one write, without waiting for a reply in
// between, and returns one Reply per command, in order.
//
// QEMU runs the in-band commands of one monitor one after the other, in
// the order it reads them, and runs each whatever the previous ones
// returned: a later command never sees an earlier one's outcome. So
// pipeline only commands that do not depend on each other's success, for
// example a query and the command that query's answer may justify (the
// caller undoes the command if the answer says it should not have run).
// What pipelining saves is the round trip per command after the first:
// QEMU reads every byte anyway, so the commands' bytes cost as much as
// with [Client.Execute].
//
// Pipelined commands carry no file descriptors. When ctx ends before
// every reply arrived, the missing ones get an [*OpError] wrapping
// ctx.Err() and their late replies are discarded, as with Execute; when
// the write fails, every command gets the error.
func (c *Client) ExecutePipelined(ctx context.Context, cmds ...Command) []Reply {
	out := make([]Reply, len(cmds))
	fail := func(from int, err func(name string) error) []Reply {
		for i := from; i < len(cmds); i++ {
			out[i].Err = err(cmds[i].Name)
		}
		return out
	}
	if err := ctx.Err(); err != nil {
		return fail(0, func(n string) error { return &OpError{Op: n, Err: err} })
	}
	msgs := make([][]byte, len(cmds))
	for i, cmd := range cmds {
		msg, err := encodeCommand(cmd.Name, cmd.Args)
		if err != nil {
			// Nothing is sent when one command cannot be encoded.
			return fail(0, func(n string) error { return &OpError{Op: n, Err: err} })
		}
		msgs[i] = msg
	}

	ids := make([]uint64, len(cmds))
	chs := make([]chan reply, len(cmds))
	var line []byte
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		return fail(0, func(n string) error { return &OpError{Op: n, Err: c.closedErr()} })
	}
	for i := range cmds {
		ids[i] = c.allocID()
		chs[i] = make(chan reply, 1)
		c.pending[ids[i]] = chs[i]
		line = append(line, appendID(msgs[i], ids[i])...)
	}
	c.mu.Unlock()

	if err := c.write(ctx, line, nil); err != nil {
		for i, id := range ids {
			if !c.forget(id, false) {
				<-chs[i] // the connection closed meanwhile and answered
			}
		}
		return fail(0, func(n string) error { return &OpError{Op: n, Err: err} })
	}
	for i, ch := range chs {
		select {
		case r := <-ch:
			out[i].Return, out[i].Err = r.result(cmds[i].Name)
		case <-ctx.Done():
			if c.forget(ids[i], true) {
				out[i].Err = &OpError{Op: cmds[i].Name, Err: ctx.Err()}
			} else {
				out[i].Return, out[i].Err = (<-ch).result(cmds[i].Name)
			}
		}
	}
	return out
}
