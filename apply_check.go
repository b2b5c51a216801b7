package nicplug

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/qmp"
)

// checkRead is the read that checks a plan computed from what the VM knows
// (see readcache.go).
var checkRead = struct {
	cmd  string
	args json.RawMessage
}{"human-monitor-command", backend.Object("command-line", "info network")}

// starter is a [Monitor] that can send a command and collect its reply
// later, like *qmp.Client.
type starter interface {
	Start(ctx context.Context, cmd string, args any) (*qmp.Call, error)
}

// startCheck sends the check of a plan about to be computed, when the
// monitor can start commands; nil otherwise (the check is then read when
// needed).
func startCheck(ctx context.Context, mon Monitor) (*qmp.Call, error) {
	s, ok := mon.(starter)
	if !ok {
		return nil, nil
	}
	c, err := s.Start(ctx, checkRead.cmd, checkRead.args)
	if err != nil {
		return nil, fmt.Errorf("nicplug: read back: %w", err)
	}
	return c, nil
}

// readCheck returns the check's `info network`: pending's reply, or read
// now when pending is nil.
func readCheck(ctx context.Context, mon Monitor, pending *qmp.Call) (string, error) {
	var text string
	if pending == nil {
		return text, call(ctx, mon, &text, checkRead.cmd, checkRead.args)
	}
	raw, err := pending.Wait(ctx)
	if err != nil {
		return "", fmt.Errorf("nicplug: read back: %w", err)
	}
	if err := qmp.DecodeReturn(checkRead.cmd, raw, &text); err != nil {
		return "", fmt.Errorf("nicplug: read back: %w", err)
	}
	return text, nil
}

// runCheck hands QEMU's `info network` to check before p's first step
// runs, and returns how many steps it ran (0 or 1). The read is the one
// PlanUpdate started (p.check), else it is read now. While the started
// read is still with QEMU and the first step is a QMP command that carries
// no fd, the step is queued behind it at once and counts as run: if the
// check then fails, the step is undone.
func (e *executor) runCheck(ctx context.Context, p *Plan, rs *runState, check func(text string) error) (int, error) {
	pending := p.check
	p.check = nil // a reply is collected once; applying again reads again
	s, queue := e.mon.(starter)
	if pending == nil || !queue || len(p.Steps) == 0 || !queueable(p.Steps[0].Do) {
		text, err := readCheck(ctx, e.mon, pending)
		if err != nil {
			return 0, err
		}
		return 0, check(text)
	}
	first := p.Steps[0]
	e.noteHold(first.Do, rs)
	start := time.Now()
	stepCall, stepErr := s.Start(ctx, first.Do.Command, first.Do.Args)
	text, checkErr := readCheck(ctx, e.mon, pending)
	if checkErr == nil {
		checkErr = check(text)
	}
	if stepErr == nil {
		_, stepErr = stepCall.Wait(ctx)
	}
	if e.log.Enabled(ctx, slog.LevelDebug) {
		e.log.Debug("nicplug: step", "vm", p.VM, "step", first.Num, "phase", first.Phase, "action", first.Do.String(),
			"elapsed", time.Since(start), "err", stepErr, "behind", checkRead.cmd)
	}
	name := first.Phase + ": " + actionName(first.Do)
	switch {
	case checkErr != nil && stepErr == nil:
		// The step ran on a QEMU the plan was not computed for: undo it.
		if undoErr := e.rollback(ctx, p.Steps[:1], rs); undoErr != nil {
			return 0, &StepError{Step: first.Num, Name: name, Err: checkErr, UndoErr: undoErr}
		}
		return 0, checkErr
	case checkErr != nil:
		return 0, checkErr
	case stepErr != nil:
		return 0, &StepError{Step: first.Num, Name: name, Err: stepErr, UndoErr: e.rollback(ctx, nil, rs)}
	}
	for _, fd := range first.Do.Consumes {
		delete(rs.passed, fd)
	}
	return 1, nil
}

// queueable reports whether a may be queued behind the check: a QMP
// command that carries no fd and needs no bookkeeping of fd names.
func queueable(a Action) bool {
	return a.Type == ActionQMP && a.Command != "getfd" && a.Command != "closefd"
}
