package nicplug

import (
	"errors"
	"fmt"
)

// StepError is the error [VM.Apply] returns when a step fails. The steps
// done before it have been undone in reverse order; UndoErr joins whatever
// failed while undoing. errors.Is/As reach both Err (for example a
// *qmp.CommandError, or qmp.ErrClosed when QEMU went away) and UndoErr.
type StepError struct {
	// Step is the failed step's 1-based number, as in [Plan.String].
	Step int
	// Name describes the step: "prepare: qmp netdev_add".
	Name string
	// Err is why the step failed.
	Err error
	// UndoErr is nil when the rollback left nothing behind.
	UndoErr error
}

// Error returns "nicplug: step N (name): err" and, when the rollback
// failed, "; rollback: undoErr".
func (e *StepError) Error() string {
	s := fmt.Sprintf("nicplug: step %d (%s): %v", e.Step, e.Name, e.Err)
	if e.UndoErr != nil {
		s += "; rollback: " + e.UndoErr.Error()
	}
	return s
}

// Unwrap returns Err and, if any, UndoErr.
func (e *StepError) Unwrap() []error {
	if e.UndoErr == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.UndoErr}
}

// ErrClosed is returned by methods of a VM after Close.
var ErrClosed = errors.New("nicplug: VM closed")

// ErrForeignPlan is returned by [VM.Apply] for a plan another VM (or no VM)
// computed.
var ErrForeignPlan = errors.New("nicplug: plan was not computed by this VM")
