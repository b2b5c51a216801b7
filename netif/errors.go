package netif

import (
	"errors"
	"fmt"
	"os"
)

// ErrNotOwned is returned when an operation that only acts on nicplug's own
// devices finds a device without nicplug's owner tag.
var ErrNotOwned = errors.New("not owned by nicplug")

// OpError is the error every netif function returns.
type OpError struct {
	// Op is the operation, e.g. "create macvtap", "open", "delete".
	Op string
	// Link is the device name, if known.
	Link string
	// Err is the cause.
	Err error
}

// newOpError returns nil when err is nil, else an *OpError.
func newOpError(op, link string, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, Link: link, Err: err}
}

// Error is "netif: <op> [<link>]: <cause>".
func (e *OpError) Error() string {
	if e.Link == "" {
		return fmt.Sprintf("netif: %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("netif: %s %s: %v", e.Op, e.Link, e.Err)
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// kindError gives an error a second identity (os.ErrNotExist, os.ErrInvalid…)
// without changing its text.
type kindError struct {
	err  error
	kind error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// withKind makes err match kind with errors.Is (unless it already does).
func withKind(err, kind error) error {
	if err == nil || errors.Is(err, kind) {
		return err
	}
	return &kindError{err: err, kind: kind}
}

// invalidf reports bad input; the error matches os.ErrInvalid.
func invalidf(format string, args ...any) error {
	return withKind(fmt.Errorf(format, args...), os.ErrInvalid)
}

// notFoundf reports a missing device or namespace; it matches os.ErrNotExist.
func notFoundf(format string, args ...any) error {
	return withKind(fmt.Errorf(format, args...), os.ErrNotExist)
}
