package guest

import (
	"errors"

	"github.com/nicplug/nicplug/internal/qemuproc"
)

// OpError is the error of a failed guest operation: Op names the step
// ("resolve kernel package", "boot", "exec", …) and Err the cause.
type OpError struct {
	Op  string
	Err error
}

// Error is "guest: <op>: <cause>".
func (e *OpError) Error() string { return "guest: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// newOpError returns nil for a nil err, else an *OpError.
func newOpError(op string, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, Err: err}
}

var (
	// ErrExited is returned by waits and Exec when QEMU has exited. It is
	// qemuproc.ErrExited.
	ErrExited = qemuproc.ErrExited
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("guest closed")
)
