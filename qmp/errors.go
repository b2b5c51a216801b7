package qmp

import (
	"errors"
	"fmt"
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
