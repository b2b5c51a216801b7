package nicplug

import (
	"errors"
	"fmt"

	"github.com/nicplug/nicplug/domain"
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

// ErrBadInput is matched by errors.Is for every error caused by the
// caller's input rather than by QEMU or the host: domain or <interface> XML
// that does not parse, an update that matches no NIC or cannot change live
// (*domain.ChangeError), a backend nicplug cannot attach
// (*domain.TypeError, an invalid macvtap mode, …). Such errors come before
// anything is changed. They are [*InputError]s.
var ErrBadInput = errors.New("nicplug: bad input")

// ErrInconsistent is matched by errors.Is when a failed or half-finished
// operation may have left QEMU or the host in neither the old nor the new
// state: a [*StepError] whose rollback failed (UndoErr != nil), or a plan
// whose steps all ran but whose unconsumed fd names QEMU still holds, or
// whose host links to delete were not found in the host's namespace. The
// next plan reads the live state back and converges from it.
var ErrInconsistent = errors.New("nicplug: state may be inconsistent")

// InputError is an error caused by the caller's input (see [ErrBadInput]).
// errors.As reaches the causes in Err: *domain.ChangeError,
// *domain.TypeError, domain.ErrNoDevice, domain.ErrAmbiguous, …
type InputError struct {
	// Op is what was being done: "attach" (the domain XML), "update" (the
	// <interface> XML) or "plan" (a wiring the planner cannot build).
	Op string
	// Err is what is wrong.
	Err error
}

// Error returns "nicplug: op: err".
func (e *InputError) Error() string { return "nicplug: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns Err.
func (e *InputError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrBadInput].
func (e *InputError) Is(target error) bool { return target == ErrBadInput }

// Is reports whether target is [ErrInconsistent] and the rollback failed.
func (e *StepError) Is(target error) bool { return target == ErrInconsistent && e.UndoErr != nil }

// badInput wraps err as an [*InputError], unless it is nil or came from a
// [Config.Resolver] without being marked bad input by it: a resolver that
// cannot reach its source is a runtime failure.
func badInput(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *resolverError
	if errors.As(err, &re) && !errors.Is(re.err, ErrBadInput) {
		return fmt.Errorf("nicplug: %s: %w", op, err)
	}
	return &InputError{Op: op, Err: err}
}

// resolverError marks an error returned by [Config.Resolver].
type resolverError struct{ err error }

func (e *resolverError) Error() string { return e.err.Error() }
func (e *resolverError) Unwrap() error { return e.err }

// markResolver returns r with its errors marked as resolverErrors (nil for
// nil).
func markResolver(r domain.NetworkResolver) domain.NetworkResolver {
	if r == nil {
		return nil
	}
	return func(network, portgroup string) (domain.Backend, error) {
		b, err := r(network, portgroup)
		if err != nil {
			err = &resolverError{err}
		}
		return b, err
	}
}

// TapMissingError is a plan refused, before anything changed, because a
// tap-datapath NIC's fixed tap is not on the host in the network namespace
// looked in ([Config.Netns]): it was deleted, or lives in another
// namespace.
type TapMissingError struct {
	// VM is the VM's name, Device the NIC's device id, Tap its fixed
	// tap's name.
	VM, Device, Tap string
}

func (e *TapMissingError) Error() string {
	return fmt.Sprintf("nicplug: NIC %s: its fixed tap %s is not on the host in the network namespace looked in: it was deleted, or lives in another namespace (Config.Netns)",
		e.Device, e.Tap)
}
