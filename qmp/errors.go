package qmp

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrClosed reports that the monitor connection is closed: [Client.Close]
// was called, QEMU went away, or the stream broke. Every error returned
// because of a closed connection matches it with errors.Is; the cause (for
// example io.EOF) stays reachable through errors.Is/As as well.
var ErrClosed = errors.New("qmp: monitor connection closed")

// errClientClosed is the cause recorded when [Client.Close] closes the
// connection.
var errClientClosed = errors.New("closed by client")

// OpError is the error returned for a failed operation other than a QMP
// error reply (which is a [*CommandError]). Op names the command or
// operation ("netdev_add", "dial", "greeting"), Err is the cause.
type OpError struct {
	// Op is the QMP command or client operation that failed; it may be empty.
	Op string
	// Err is the underlying error.
	Err error
}

// Error returns "qmp: <op>: <err>".
func (e *OpError) Error() string {
	if e.Op == "" {
		return "qmp: " + e.Err.Error()
	}
	return "qmp: " + e.Op + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }

// newOpError returns nil when err is nil, err itself when it is already a
// *CommandError or *OpError, and an *OpError otherwise.
func newOpError(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *CommandError
	var oe *OpError
	if errors.As(err, &ce) || errors.As(err, &oe) {
		return err
	}
	return &OpError{Op: op, Err: err}
}

// closedError is the cause wrapped in an [OpError] when the connection is
// closed. It matches [ErrClosed] and unwraps to the reason.
type closedError struct {
	cause error
}

func (e *closedError) Error() string {
	if e.cause == nil {
		return "monitor connection closed"
	}
	return "monitor connection closed: " + e.cause.Error()
}

func (e *closedError) Is(target error) bool { return target == ErrClosed }

func (e *closedError) Unwrap() error { return e.cause }

// CommandError is a QMP error reply: QEMU ran (or refused) the command and
// answered {"error": {"class": …, "desc": …}}. Reach it with errors.As.
type CommandError struct {
	// Command is the QMP command that failed, e.g. "netdev_del".
	Command string
	// Class is QEMU's error class: "GenericError", "DeviceNotFound",
	// "CommandNotFound", "DeviceNotActive", "KVMMissingCap".
	Class string
	// Desc is QEMU's human-readable description.
	Desc string
}

// Error returns "qmp: <command>: <class>: <desc>".
func (e *CommandError) Error() string {
	return fmt.Sprintf("qmp: %s: %s: %s", e.Command, e.Class, e.Desc)
}

// IsClass reports whether err is (or wraps) a [*CommandError] of the given
// class, e.g. IsClass(err, "DeviceNotFound").
func IsClass(err error, class string) bool {
	var ce *CommandError
	return errors.As(err, &ce) && ce.Class == class
}

// ErrLineTooLong is matched by the error that closes a connection whose
// monitor sent a line longer than [Config.MaxLine].
var ErrLineTooLong = errors.New("qmp: monitor line too long")

// lineTooLongError is the cause recorded when the monitor sent a line
// longer than the limit.
type lineTooLongError struct {
	max   int
	start string // the line's first bytes, cut
}

func (e *lineTooLongError) Error() string {
	return fmt.Sprintf("monitor sent a line longer than %s (the limit, qmp.Config.MaxLine), starting %s", sizeString(e.max), quoteCut(e.start, 40))
}

func (e *lineTooLongError) Is(target error) bool { return target == ErrLineTooLong }

// ErrNotQMP is matched by the error of a command that got no reply in time
// while the monitor sent lines that are not QMP messages: the socket is
// probably not a QMP monitor (a human monitor, a serial console, another
// program).
var ErrNotQMP = errors.New("qmp: monitor sends lines that are not QMP")

// noiseError is the error of a command whose context ended while the
// monitor sent only lines that are not QMP. It unwraps to the context's
// error and matches [ErrNotQMP].
type noiseError struct {
	cause error
	lines uint64
	last  string // the last such line, cut
}

func (e *noiseError) Error() string {
	what := "1 line that is not QMP:"
	if e.lines > 1 {
		what = fmt.Sprintf("%d lines that are not QMP, the last", e.lines)
	}
	return fmt.Sprintf("no reply, the monitor sent %s %s (%v)", what, quoteCut(e.last, 60), e.cause)
}

func (e *noiseError) Is(target error) bool { return target == ErrNotQMP }

func (e *noiseError) Unwrap() error { return e.cause }

// quoteCut quotes the first n bytes of s on one line, with an ellipsis
// after the quote when s was longer.
func quoteCut(s string, n int) string {
	s = strings.TrimSuffix(s, "…")
	if len(s) <= n {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q…", strings.ToValidUTF8(s[:n], ""))
}

// sizeString renders a byte count in the largest binary unit that divides it.
func sizeString(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ErrMalformedReply is matched by the error of a command whose reply the
// monitor sent malformed: a line carrying the command's id that is not a
// well-formed reply (neither "return" nor "error", both, an "error"
// without a "class", members of the wrong type), or a return value a
// helper cannot decode ([DecodeReturn]). It is not a [*CommandError]: QMP
// error classes are kept for QEMU's own error replies. Lines that carry no
// id of this client are not replies: see [ErrNotQMP].
var ErrMalformedReply = errors.New("qmp: malformed reply from the monitor")

// malformedError is the cause of a command's error when its reply was
// malformed: why, and the reply's start, quoted and cut.
type malformedError struct {
	why  string
	line string
}

// maxMalformedQuote bounds the excerpt of a malformed reply in its error.
const maxMalformedQuote = 60

func (e *malformedError) Error() string {
	return fmt.Sprintf("malformed reply from the monitor: %s: %s", e.why, quoteCut(e.line, maxMalformedQuote))
}

func (e *malformedError) Is(target error) bool { return target == ErrMalformedReply }

// DecodeReturn decodes a command's "return" value raw (as [Client.Execute]
// returns it) into out, as json.Unmarshal does; when it cannot, the error
// is an [*OpError] for command that matches [ErrMalformedReply] and quotes
// raw, cut.
func DecodeReturn(command string, raw []byte, out any) error {
	if err := json.Unmarshal(raw, out); err != nil {
		return &OpError{Op: command, Err: &malformedError{why: err.Error(), line: truncate(raw)}}
	}
	return nil
}
