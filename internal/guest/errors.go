package guest

import "errors"

// OpError is the error of a failed guest operation: Op names the step
// ("resolve kernel package", "boot", "exec", …) and Err the cause.
type OpError struct {
	Op  string
	Err error
}

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
	// ErrExited is returned by waits and Exec when QEMU has exited.
	ErrExited = errors.New("qemu exited")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("guest closed")
)
