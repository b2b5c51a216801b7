package nicplug

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// stoppingMon answers until it gets set_link, then never again, like a
// QEMU stopped (SIGSTOP) at that point: every later command waits for its
// context.
type stoppingMon struct{ stopped bool }

func (m *stoppingMon) Execute(ctx context.Context, cmd string, args any, files ...*os.File) (json.RawMessage, error) {
	if cmd == "set_link" {
		m.stopped = true
	}
	if !m.stopped {
		return json.RawMessage(`{}`), nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// deleteHost records whether each DeleteLink had time left.
type deleteHost struct {
	fakeHost
	deletes []string
}

func (h *deleteHost) DeleteLink(ctx context.Context, name string) error {
	state := "ok"
	if ctx.Err() != nil {
		state = "done"
	}
	h.deletes = append(h.deletes, name+" ctx="+state)
	return ctx.Err()
}

// TestRollbackHostBudget checks that a monitor that hangs through the
// whole QMP undo budget does not starve the host's undos: the macvtap a
// failed plan created is still deleted.
func TestRollbackHostBudget(t *testing.T) {
	h := &deleteHost{}
	e := &executor{mon: &stoppingMon{}, host: h, log: slog.New(slog.DiscardHandler),
		undoTimeout: 50 * time.Millisecond, hostUndoTimeout: 10 * time.Second}
	p := &Plan{VM: "vm", Steps: []Step{
		{Num: 1, Phase: "prepare", Do: Action{Type: ActionHost, Op: OpCreateMacvtap, Link: "np1"},
			Undo: []Action{{Type: ActionHost, Op: OpDeleteLink, Link: "np1"}}},
		{Num: 2, Phase: "prepare", Do: qmpAction("netdev_add", "id", "x"), Undo: []Action{netdevDel("x")}},
		{Num: 3, Phase: "down", Do: setLink("net0", false), Undo: []Action{setLink("net0", true)}},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := e.apply(ctx, p, nil)
	var se *StepError
	if !errors.As(err, &se) || se.Step != 3 || !errors.Is(se.Err, context.DeadlineExceeded) {
		t.Fatalf("apply: %v, want step 3 to time out", err)
	}
	if !errors.Is(err, ErrInconsistent) || !strings.Contains(se.UndoErr.Error(), "undo of step 2 (qmp netdev_del)") {
		t.Errorf("rollback: %v, want step 2's QMP undo to time out", se.UndoErr)
	}
	// Step 1's undo runs with a budget of its own although the QMP
	// budget is spent.
	if want := []string{"np1 ctx=ok"}; strings.Join(h.deletes, ",") != strings.Join(want, ",") {
		t.Errorf("host deletes %v, want %v", h.deletes, want)
	}
}

// TestRollbackHostBudgetInterleaved: host and QMP undos alternate, as on
// the tap datapath (host steps around a set_link): a QMP undo that hangs
// through its whole budget between two host undos does not use up the
// host's budget, which counts only the time spent in host undos.
func TestRollbackHostBudgetInterleaved(t *testing.T) {
	h := &deleteHost{}
	e := &executor{mon: &stoppingMon{}, host: h, log: slog.New(slog.DiscardHandler),
		undoTimeout: 300 * time.Millisecond, hostUndoTimeout: 100 * time.Millisecond}
	p := &Plan{VM: "vm", Steps: []Step{
		{Num: 1, Phase: "prepare", Do: Action{Type: ActionHost, Op: OpCreateMacvtap, Link: "np1"},
			Undo: []Action{{Type: ActionHost, Op: OpDeleteLink, Link: "np1"}}},
		{Num: 2, Phase: "prepare", Do: qmpAction("netdev_add", "id", "x"), Undo: []Action{netdevDel("x")}},
		{Num: 3, Phase: "prepare", Do: Action{Type: ActionHost, Op: OpCreateMacvtap, Link: "np2"},
			Undo: []Action{{Type: ActionHost, Op: OpDeleteLink, Link: "np2"}}},
		{Num: 4, Phase: "down", Do: setLink("net0", false), Undo: []Action{setLink("net0", true)}},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := e.apply(ctx, p, nil)
	var se *StepError
	if !errors.As(err, &se) || se.Step != 4 {
		t.Fatalf("apply: %v, want step 4 to time out", err)
	}
	if !strings.Contains(se.UndoErr.Error(), "undo of step 2 (qmp netdev_del)") || strings.Contains(se.UndoErr.Error(), "host") {
		t.Errorf("rollback: %v, want only step 2's QMP undo to fail", se.UndoErr)
	}
	if want := []string{"np2 ctx=ok", "np1 ctx=ok"}; strings.Join(h.deletes, ",") != strings.Join(want, ",") {
		t.Errorf("host deletes %v, want %v", h.deletes, want)
	}
	// Bounded all the same: the deadline, then each budget at most.
	if took := time.Since(start); took > 50*time.Millisecond+300*time.Millisecond+100*time.Millisecond+200*time.Millisecond {
		t.Errorf("apply took %v", took)
	}
}
