package qmp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// readBufferSize is the bufio buffer; longer lines are assembled in a
// growing slice, up to the line limit ([Config.MaxLine]).
const readBufferSize = 64 << 10

// maxKeptLine bounds the assembly buffer kept between lines, so one huge
// reply (query-qmp-schema) does not pin its memory for the client's life.
const maxKeptLine = 1 << 20

// readLoop is the client's only long-lived goroutine: it reads the greeting,
// then routes every line to a waiting command or to event consumers. It
// never blocks on a consumer.
func (c *Client) readLoop() {
	defer close(c.readerDone)
	r := bufio.NewReaderSize(c.conn, readBufferSize)
	var acc []byte
	greeted := false
	for {
		line, err := readLine(r, &acc, c.maxLine)
		if err != nil {
			if !greeted {
				err = fmt.Errorf("reading greeting: %w", err)
			}
			c.shutdown(err)
			return
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var m message
		if err := json.Unmarshal(line, &m); err != nil {
			if !greeted {
				c.shutdown(fmt.Errorf("bad greeting %.80q: %w", line, err))
				return
			}
			if id, ok := replyID(line); ok {
				// A JSON object with our id: a reply, malformed.
				c.dispatchReply(id, reply{bad: &malformedError{why: err.Error(), line: truncate(line)}}, line)
				continue
			}
			c.log.Warn("qmp: discarding unparseable line", "line", truncate(line), "err", err)
			c.noteNoise(line)
			continue
		}
		if !greeted && m.QMP == nil && (m.Return != nil || m.Error != nil) {
			c.log.Warn("qmp: discarding a reply left over from the monitor's previous client", "line", truncate(line))
			continue
		}
		if !greeted {
			if m.QMP == nil {
				c.shutdown(fmt.Errorf("bad greeting: not a QMP greeting: %.80q", line))
				return
			}
			v := m.QMP.Version
			c.version = Version{Major: v.QEMU.Major, Minor: v.QEMU.Minor, Micro: v.QEMU.Micro, Package: v.Package}
			c.caps = m.QMP.Capabilities
			greeted = true
			close(c.greeted)
			continue
		}
		switch {
		case m.Event != "":
			c.dispatchEvent(Event{Name: m.Event, Data: m.Data, Time: m.Timestamp.time()})
		case m.Return != nil || m.Error != nil:
			id, ok := parseID(m.ID)
			if !ok {
				c.log.Warn("qmp: discarding reply without a client id", "line", truncate(line))
				continue
			}
			c.dispatchReply(id, replyOf(&m, line), line)
		case m.QMP == nil && len(m.ID) > 0:
			if id, ok := parseID(m.ID); ok {
				c.dispatchReply(id, reply{bad: &malformedError{why: `neither "return" nor "error"`, line: truncate(line)}}, line)
				continue
			}
			fallthrough
		default:
			c.log.Warn("qmp: discarding unexpected message", "line", truncate(line))
			c.noteNoise(line)
		}
	}
}

// replyOf is the reply m (a line with "return" or "error") carries: a
// malformed one when it has both, or an "error" without a "class".
func replyOf(m *message, line []byte) reply {
	switch {
	case m.Return != nil && m.Error != nil:
		return reply{bad: &malformedError{why: `both "return" and "error"`, line: truncate(line)}}
	case m.Error != nil && m.Error.Class == "":
		return reply{bad: &malformedError{why: `an "error" without a "class"`, line: truncate(line)}}
	}
	return reply{ret: m.Return, err: m.Error}
}

// replyID is the id of this client in a line that is a JSON object but
// not a well-formed message, if it has one.
func replyID(line []byte) (uint64, bool) {
	var env struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(line, &env) != nil {
		return 0, false
	}
	return parseID(env.ID)
}

// dispatchReply hands r, the reply to command id, to its caller.
func (c *Client) dispatchReply(id uint64, r reply, line []byte) {
	c.mu.Lock()
	if c.fence != 0 {
		if id != c.fence {
			c.mu.Unlock()
			c.log.Warn("qmp: discarding a reply left over from the monitor's previous client", "line", truncate(line))
			return
		}
		c.fence = 0
	}
	ch, ok := c.pending[id]
	if ok {
		delete(c.pending, id) // the id is free for reuse from now on
		if ch != nil {
			// ch has room for exactly this one reply: never blocks.
			ch <- r
		}
	}
	c.mu.Unlock()
	if ch == nil {
		c.log.Debug("qmp: discarding reply nobody waits for (late or unknown id)", "id", id, "known", ok)
	}
}

// readLine returns the next line, up to max bytes (newline included). The
// result is valid until the next call. A stream ending inside a line yields
// io.ErrUnexpectedEOF; a longer line an error matching [ErrLineTooLong],
// after at most max bytes were buffered.
func readLine(r *bufio.Reader, acc *[]byte, max int) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if len(line) > max {
		return nil, &lineTooLongError{max: max, start: truncate(line)}
	}
	if err == nil {
		return line, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if cap(*acc) > maxKeptLine {
		*acc = nil
	}
	b := append((*acc)[:0], line...)
	for {
		line, err = r.ReadSlice('\n')
		if len(b)+len(line) > max {
			return nil, &lineTooLongError{max: max, start: truncate(b)}
		}
		b = append(b, line...)
		*acc = b
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// truncate returns the start of b for logs and errors: at most 200 bytes,
// cut with an ellipsis.
func truncate(b []byte) string {
	const n = 200
	if len(b) > n {
		return strings.ToValidUTF8(string(b[:n]), "") + "…"
	}
	return string(b)
}
