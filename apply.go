package nicplug

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/qmp"
)

// Monitor is the part of a QMP client the engine uses: one command, with
// optional file descriptors sent in the same message. *qmp.Client is one.
type Monitor interface {
	Execute(ctx context.Context, cmd string, args any, files ...*os.File) (json.RawMessage, error)
}

// executor runs plans.
type executor struct {
	mon         Monitor
	host        backend.Host
	log         *slog.Logger
	undoTimeout time.Duration
	// hostUndoTimeout bounds the host undos of a rollback.
	hostUndoTimeout time.Duration
	// now is the clock of carrier holds (see linkwatch.go); nil means
	// time.Now. Tests set it.
	now func() time.Time
	// linkMu guards linkwatch: the guest kernel's linkwatch as the
	// set_link commands this executor sent leave it (see linkwatch.go).
	// It outlives plans; a fresh executor knows no earlier event.
	linkMu    sync.Mutex
	linkwatch linkwatchModel
}

// runState tracks fds during one plan.
type runState struct {
	// files are host fds produced by open actions, not yet sent.
	files map[string]*os.File
	// passed are fd names QEMU holds that no command consumed yet.
	passed map[string]bool
	// missing are the host links a delete-link step did not find.
	missing []error
	// reaction watches for the guest's reaction to a carrier loss (see
	// hold.go); nil until an arm step ran on a monitor with events.
	reaction *reaction
	// drop is the latest set_link down of the plan, which the carrier
	// hold after it is measured against (see linkwatch.go).
	drop *linkDrop
}

// apply runs p's steps in order; on failure it undoes the completed ones
// in reverse with a fresh context and returns a *StepError. With check,
// QEMU's `info network` is checked first (see [executor.runCheck]).
func (e *executor) apply(ctx context.Context, p *Plan, check func(text string) error) error {
	rs := &runState{files: map[string]*os.File{}, passed: map[string]bool{}}
	defer rs.closeFiles()
	defer rs.stopWatch()
	first := 0
	if check != nil {
		n, err := e.runCheck(ctx, p, rs, check)
		if err != nil {
			return err
		}
		first = n
	}
	for i := first; i < len(p.Steps); i++ {
		s := p.Steps[i]
		err := ctx.Err()
		if err == nil {
			start := time.Now()
			err = e.run(ctx, s.Do, rs)
			if e.log.Enabled(ctx, slog.LevelDebug) {
				e.log.Debug("nicplug: step", "vm", p.VM, "step", s.Num, "phase", s.Phase, "action", s.Do.String(),
					"elapsed", time.Since(start), "err", err)
			}
		}
		if err != nil && s.Do.Type == ActionHost && s.Do.Op == OpDeleteLink && errors.Is(err, os.ErrNotExist) {
			// Nothing to delete is not a deletion: the link the plan
			// expected may live on elsewhere. Go on, and report it.
			rs.missing = append(rs.missing, fmt.Errorf("step %d: host link %s was not found, nothing deleted: %w", s.Num, s.Do.Link, err))
			e.log.Warn("nicplug: link to delete not found", "vm", p.VM, "step", s.Num, "link", s.Do.Link, "err", err)
			continue
		}
		if err != nil {
			undoErr := e.rollback(ctx, p.Steps[:i], rs)
			return &StepError{Step: s.Num, Name: s.Phase + ": " + actionName(s.Do), Err: err, UndoErr: undoErr}
		}
	}
	errs := rs.missing
	if err := e.closePassed(ctx, rs); err != nil {
		errs = append(errs, fmt.Errorf("closing unconsumed fd names failed: %w", err))
	}
	if len(errs) > 0 {
		return &appliedError{errors.Join(errs...)}
	}
	return nil
}

// appliedError is returned when every step of a plan ran but something is
// left that should not be: fd names QEMU still holds that could not be
// closed, or host links the plan was to delete that it did not find (they
// may live on in a network namespace other than the host's). The plan is
// applied.
type appliedError struct{ err error }

func (e *appliedError) Error() string {
	return "nicplug: plan applied, but " + strings.ReplaceAll(e.err.Error(), "\n", "; ")
}

func (e *appliedError) Unwrap() error { return e.err }

func (e *appliedError) Is(target error) bool { return target == ErrInconsistent }

func actionName(a Action) string {
	switch a.Type {
	case ActionQMP:
		return "qmp " + a.Command
	case ActionHost:
		return "host " + string(a.Op)
	}
	return string(a.Type)
}

// rollback runs the undos of done in reverse, then closes unconsumed fd
// names. Each kind of undo has a budget of its own, with a context that
// ignores ctx's cancellation: QMP undos share the undo timeout, host
// undos the host undo timeout, each counting only the time spent in
// undos of its kind, so that a monitor that hangs (a stopped QEMU) never
// starves the removal of host devices, even when QMP and host undos
// alternate (the tap datapath's set_link between its host steps).
func (e *executor) rollback(ctx context.Context, done []Step, rs *runState) error {
	b := &undoBudget{parent: context.WithoutCancel(ctx), left: map[ActionType]time.Duration{
		ActionQMP: e.undoTimeout, ActionHost: e.hostUndoTimeout}}
	var errs []error
	for i := len(done) - 1; i >= 0; i-- {
		for _, u := range done[i].Undo {
			uctx, end := b.context(u)
			err := e.run(uctx, u, rs)
			end()
			if err != nil {
				errs = append(errs, fmt.Errorf("undo of step %d (%s): %w", done[i].Num, actionName(u), err))
				e.log.Warn("nicplug: undo failed", "step", done[i].Num, "action", u.String(), "err", err)
				break // the rest of this step's undo depends on this action
			}
		}
	}
	cctx, end := b.context(Action{Type: ActionQMP})
	defer end()
	if err := e.closePassed(cctx, rs); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// undoBudget hands out the contexts of a rollback's undos: the undos of
// one kind (QMP; host, and the waits with them) share a budget, and each
// gets what its kind has left, which only its kind's undos use up.
type undoBudget struct {
	parent context.Context
	left   map[ActionType]time.Duration
}

// context returns the context of undo a and the function to call once
// it is done, which charges its time to its kind.
func (b *undoBudget) context(a Action) (context.Context, func()) {
	kind := ActionQMP
	if a.Type != ActionQMP {
		kind = ActionHost
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(b.parent, max(b.left[kind], 0))
	return ctx, func() {
		cancel()
		b.left[kind] -= time.Since(start)
	}
}

// closePassed closes fd names QEMU still holds.
func (e *executor) closePassed(ctx context.Context, rs *runState) error {
	var errs []error
	for name := range rs.passed {
		if err := e.closeFD(ctx, name, rs); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *executor) closeFD(ctx context.Context, name string, rs *runState) error {
	if !rs.passed[name] {
		return nil // consumed, or never passed
	}
	_, err := e.mon.Execute(ctx, "closefd", backend.Object("fdname", name))
	if err != nil && !fdNotFound(err) {
		return err
	}
	delete(rs.passed, name)
	return nil
}

// fdNotFound reports QEMU's answer for an fd name it does not hold (a
// failed netdev_add may have consumed it already).
func fdNotFound(err error) bool {
	var ce *qmp.CommandError
	return errors.As(err, &ce) && strings.Contains(ce.Desc, "not found")
}

func (rs *runState) closeFiles() {
	for name, f := range rs.files {
		f.Close()
		delete(rs.files, name)
	}
}

// run executes one action.
func (e *executor) run(ctx context.Context, a Action, rs *runState) error {
	switch a.Type {
	case ActionQMP:
		return e.runQMP(ctx, a, rs)
	case ActionHost:
		return e.runHost(ctx, a, rs)
	case ActionWait:
		return e.wait(ctx, a, rs)
	}
	return fmt.Errorf("nicplug: unknown action type %q", a.Type)
}

// wait holds for a.Duration, ending early with an error when ctx ends or
// when QEMU goes away (a monitor with Done and Err, like *qmp.Client,
// tells).
func (e *executor) wait(ctx context.Context, a Action, rs *runState) error {
	d, err := time.ParseDuration(a.Duration)
	if err != nil {
		return fmt.Errorf("nicplug: wait: %w", err)
	}
	if a.Until != "" && rs.reaction != nil {
		return e.waitReaction(ctx, a, d, rs)
	}
	if s := rs.drop.stretch(e.clock()); s > 0 {
		e.log.Debug(holdStretched, "device", rs.drop.dev, "hold", d, "stretch", s)
		d += s
	}
	var gone <-chan struct{}
	w, watch := e.mon.(watcher)
	if watch {
		gone = w.Done()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("nicplug: wait: %w", ctx.Err())
	case <-gone:
		return fmt.Errorf("nicplug: wait: QEMU went away during the %s carrier hold: %w", a.Duration, w.Err())
	}
}

// watcher is a [Monitor] that reports the end of its connection, like
// *qmp.Client.
type watcher interface {
	// Done is closed when the connection ends.
	Done() <-chan struct{}
	// Err says why, once Done is closed.
	Err() error
}

func (e *executor) runQMP(ctx context.Context, a Action, rs *runState) error {
	e.noteHold(a, rs)
	switch a.Command {
	case "getfd":
		f := rs.files[a.FD]
		if f == nil {
			return fmt.Errorf("nicplug: getfd %s: no host fd of that name was opened", a.FD)
		}
		delete(rs.files, a.FD)
		_, err := e.mon.Execute(ctx, a.Command, a.Args, f)
		f.Close() // QEMU has its own copy now (or none)
		var ce *qmp.CommandError
		if err != nil && errors.As(err, &ce) {
			return err // QEMU refused it: it holds nothing under that name
		}
		// Sent, or maybe sent (the context may have ended after the
		// command was written): roll back with closefd, which tolerates
		// a name QEMU does not hold.
		rs.passed[a.FD] = true
		return err
	case "closefd":
		return e.closeFD(ctx, a.FD, rs)
	}
	if _, err := e.mon.Execute(ctx, a.Command, a.Args); err != nil {
		return err
	}
	for _, name := range a.Consumes {
		delete(rs.passed, name)
	}
	return nil
}

func (e *executor) runHost(ctx context.Context, a Action, rs *runState) error {
	if e.host == nil {
		return fmt.Errorf("nicplug: %s %s: no host configured", a.Op, a.Link)
	}
	owner := backend.Owner{}
	if a.Owner != nil {
		owner = *a.Owner
	}
	switch a.Op {
	case OpCreateMacvtap:
		return e.host.CreateMacvtap(ctx, backend.MacvtapConfig{Name: a.Link, Parent: a.Parent, Mode: a.Mode, MAC: a.MAC, Owner: owner})
	case OpCreateBridgeTap:
		return e.host.CreateBridgeTap(ctx, backend.BridgeTapConfig{Name: a.Link, Bridge: a.Bridge, MAC: a.MAC, VLAN: a.VLAN, Owner: owner})
	case OpCheckBridge, OpCheckTarget, OpSetMaster, OpSetVLAN, OpCreateMacvlan, OpAddRedirect, OpDelRedirect:
		return e.runTapHost(ctx, a, owner)
	case OpOpenMacvtap, OpOpenTap:
		open := e.host.OpenTap
		if a.Op == OpOpenMacvtap {
			open = e.host.OpenMacvtap
		}
		f, err := open(ctx, a.Link)
		if err != nil {
			return err
		}
		if old := rs.files[a.FD]; old != nil {
			old.Close()
		}
		rs.files[a.FD] = f
		return nil
	case OpDeleteLink:
		return e.host.DeleteLink(ctx, a.Link)
	}
	return fmt.Errorf("nicplug: unknown host operation %q", a.Op)
}
