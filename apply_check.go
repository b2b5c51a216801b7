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

// checkRead is the read a checked plan's apply starts with (see
// readcache.go).
var checkRead = qmp.Command{Name: "human-monitor-command", Args: backend.Object("command-line", "info network")}

// pipeliner is a [Monitor] that can send several commands in one write,
// like *qmp.Client.
type pipeliner interface {
	ExecutePipelined(ctx context.Context, cmds ...qmp.Command) []qmp.Reply
}

// runCheck reads `info network` and hands it to check before p's first
// step runs. When that step is a QMP command that carries no fd and the
// monitor pipelines, the read and the step go to QEMU in one write and the
// step counts as run (runCheck returns 1): if the check then fails, the
// step is undone. Otherwise the read goes alone and runCheck returns 0.
func (e *executor) runCheck(ctx context.Context, p *Plan, rs *runState, check func(text string) error) (int, error) {
	pl, pipelines := e.mon.(pipeliner)
	if !pipelines || len(p.Steps) == 0 || !pipelinable(p.Steps[0].Do) {
		var text string
		if err := call(ctx, e.mon, &text, checkRead.Name, checkRead.Args.(json.RawMessage)); err != nil {
			return 0, err
		}
		return 0, check(text)
	}
	s := p.Steps[0]
	e.noteHold(s.Do, rs)
	start := time.Now()
	r := pl.ExecutePipelined(ctx, checkRead, qmp.Command{Name: s.Do.Command, Args: s.Do.Args})
	if e.log.Enabled(ctx, slog.LevelDebug) {
		e.log.Debug("nicplug: step", "vm", p.VM, "step", s.Num, "phase", s.Phase, "action", s.Do.String(),
			"elapsed", time.Since(start), "err", r[1].Err, "pipelined", checkRead.Name)
	}
	checkErr := r[0].Err
	if checkErr != nil {
		checkErr = fmt.Errorf("nicplug: read back: %w", checkErr)
	} else {
		var text string
		if err := json.Unmarshal(r[0].Return, &text); err != nil {
			checkErr = fmt.Errorf("nicplug: read back: %s: %w", checkRead.Name, err)
		} else {
			checkErr = check(text)
		}
	}
	name := s.Phase + ": " + actionName(s.Do)
	switch {
	case checkErr != nil && r[1].Err == nil:
		// The step ran on a QEMU the plan was not made for: undo it.
		if undoErr := e.rollback(ctx, p.Steps[:1], rs); undoErr != nil {
			return 0, &StepError{Step: s.Num, Name: name, Err: checkErr, UndoErr: undoErr}
		}
		return 0, checkErr
	case checkErr != nil:
		return 0, checkErr
	case r[1].Err != nil:
		return 0, &StepError{Step: s.Num, Name: name, Err: r[1].Err, UndoErr: e.rollback(ctx, nil, rs)}
	}
	for _, fd := range s.Do.Consumes {
		delete(rs.passed, fd)
	}
	return 1, nil
}

// pipelinable reports whether a may go to QEMU in one write with the
// check: a QMP command that carries no fd and needs no bookkeeping of fd
// names.
func pipelinable(a Action) bool {
	return a.Type == ActionQMP && a.Command != "getfd" && a.Command != "closefd"
}
