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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/qmp"
)

// fakeMon records commands and fails the ones told to.
type fakeMon struct {
	mu    sync.Mutex
	calls []string // "cmd files=N ctx=ok|done"
	fail  map[string]error
	hook  func(cmd string)
}

func (m *fakeMon) Execute(ctx context.Context, cmd string, args any, files ...*os.File) (json.RawMessage, error) {
	m.mu.Lock()
	state := "ok"
	if ctx.Err() != nil {
		state = "done"
	}
	raw, _ := json.Marshal(args)
	m.calls = append(m.calls, fmt.Sprintf("%s %s files=%d ctx=%s", cmd, raw, len(files), state))
	err := m.fail[cmd]
	hook := m.hook
	m.mu.Unlock()
	if hook != nil {
		hook(cmd)
	}
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return json.RawMessage(`{}`), nil
}

// fakeHost opens pipes and remembers them.
type fakeHost struct {
	opened []*os.File
	peers  []*os.File
}

func (h *fakeHost) CreateMacvtap(context.Context, backend.MacvtapConfig) error     { return nil }
func (h *fakeHost) CreateBridgeTap(context.Context, backend.BridgeTapConfig) error { return nil }
func (h *fakeHost) OpenMacvtap(ctx context.Context, name string) (*os.File, error) {
	return h.OpenTap(ctx, name)
}
func (h *fakeHost) OpenTap(context.Context, string) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	h.opened, h.peers = append(h.opened, r), append(h.peers, w)
	return r, nil
}
func (h *fakeHost) DeleteLink(context.Context, string) error                       { return nil }
func (h *fakeHost) ListOwned(context.Context, string) ([]backend.OwnedLink, error) { return nil, nil }

// requireClosed checks that every fd the host opened was closed.
func (h *fakeHost) requireClosed(t *testing.T) {
	t.Helper()
	for i, f := range h.opened {
		if err := f.Close(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("host fd %d was left open", i)
		}
		h.peers[i].Close()
	}
}

func ethernetPlug(t *testing.T) *Plan {
	t.Helper()
	p := Planner{VM: "vm"}
	live := NICState{Device: "net0", Peer: "np.net0.nic", Hub: 0}
	cur := Wiring{Device: "net0", MAC: "52:54:00:00:00:01", Backend: domain.Backend{Type: domain.TypeNone}}
	want := cur
	want.Backend, want.LinkUp = domain.Backend{Type: domain.TypeEthernet, Dev: "tap0"}, true
	plan, err := p.Update(live, cur, want)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func newExec(mon Monitor, host backend.Host) *executor {
	return &executor{mon: mon, host: host, log: slog.New(slog.DiscardHandler), undoTimeout: 5 * time.Second}
}

func commands(calls []string) []string {
	var out []string
	for _, c := range calls {
		name, rest, _ := strings.Cut(c, " ")
		_, tail, _ := strings.Cut(rest, " files=")
		out = append(out, name+" files="+tail)
	}
	return out
}

func TestApplySuccessClosesHostFDs(t *testing.T) {
	mon, host := &fakeMon{}, &fakeHost{}
	if err := newExec(mon, host).apply(context.Background(), ethernetPlug(t), nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"getfd files=1 ctx=ok", "netdev_add files=0 ctx=ok", "netdev_add files=0 ctx=ok", "set_link files=0 ctx=ok"}
	if diff := cmp.Diff(want, commands(mon.calls)); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	host.requireClosed(t)
}

func TestApplyFailureClosesUnconsumedFD(t *testing.T) {
	cause := &qmp.CommandError{Command: "netdev_add", Class: "GenericError", Desc: "boom"}
	mon, host := &fakeMon{fail: map[string]error{"netdev_add": cause}}, &fakeHost{}
	err := newExec(mon, host).apply(context.Background(), ethernetPlug(t), nil)
	var se *StepError
	var ce *qmp.CommandError
	if !errors.As(err, &se) || se.Step != 3 || !errors.As(err, &ce) || ce != cause || se.UndoErr != nil {
		t.Fatalf("apply = %v, want StepError at step 3 reaching the CommandError", err)
	}
	if want := `nicplug: step 3 (prepare: qmp netdev_add): qmp: netdev_add: GenericError: boom`; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
	want := []string{"getfd files=1 ctx=ok", "netdev_add files=0 ctx=ok", "closefd files=0 ctx=ok"}
	if diff := cmp.Diff(want, commands(mon.calls)); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	host.requireClosed(t)
}

func TestApplyCancelledUndoesWithFreshContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	mon, host := &fakeMon{}, &fakeHost{}
	mon.hook = func(cmd string) {
		if cmd == "set_link" {
			cancel()
		}
	}
	err := newExec(mon, host).apply(ctx, ethernetPlug(t), nil)
	var se *StepError
	if !errors.As(err, &se) || se.Step != 5 || !errors.Is(err, context.Canceled) || se.UndoErr != nil {
		t.Fatalf("apply = %v, want StepError at step 5 with context.Canceled", err)
	}
	want := []string{
		"getfd files=1 ctx=ok", "netdev_add files=0 ctx=ok", "netdev_add files=0 ctx=ok", "set_link files=0 ctx=ok",
		// rollback, with a live context although ctx is cancelled
		"netdev_del files=0 ctx=ok", "netdev_del files=0 ctx=ok",
	}
	if diff := cmp.Diff(want, commands(mon.calls)); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	host.requireClosed(t)
}

func TestApplyUndoFailureIsJoined(t *testing.T) {
	undoCause := errors.New("netdev_del refused")
	mon, host := &fakeMon{fail: map[string]error{"set_link": errors.New("set_link refused"), "netdev_del": undoCause}}, &fakeHost{}
	err := newExec(mon, host).apply(context.Background(), ethernetPlug(t), nil)
	var se *StepError
	if !errors.As(err, &se) || se.Step != 5 || !errors.Is(err, undoCause) || se.UndoErr == nil {
		t.Fatalf("apply = %v, want StepError at step 5 joining the undo failure", err)
	}
	if !strings.Contains(err.Error(), "; rollback: undo of step 4 (qmp netdev_del): netdev_del refused") {
		t.Errorf("error text %q lacks the rollback failure", err)
	}
	host.requireClosed(t)
}

func TestApplyRefusesForeignAndStalePlans(t *testing.T) {
	v := &VM{links: map[string]bool{}}
	if err := v.apply(context.Background(), ethernetPlug(t)); !errors.Is(err, ErrForeignPlan) {
		t.Errorf("foreign plan: %v", err)
	}
	p := ethernetPlug(t)
	v.own(p, func(*VM) {})
	v.epoch++
	if err := v.apply(context.Background(), p); !errors.Is(err, ErrStalePlan) {
		t.Errorf("stale plan: %v", err)
	}
}

// TestApplyLeftoverFD: every step ran, but an fd name QEMU was given and no
// command consumed cannot be closed: the plan counts as applied (the VM
// commits it) and the error says the state is inconsistent.
func TestApplyLeftoverFD(t *testing.T) {
	p := ethernetPlug(t)
	// Drop the netdev_add and what follows, so the getfd name stays.
	for i, s := range p.Steps {
		if s.Do.Command == "netdev_add" {
			p.Steps = p.Steps[:i]
			break
		}
	}
	refused := errors.New("closefd refused")
	mon := &fakeMon{fail: map[string]error{"closefd": refused}}
	host := &fakeHost{}
	v := &VM{links: map[string]bool{}, exec: newExec(mon, host)}
	committed := false
	v.own(p, func(*VM) { committed = true })
	err := v.apply(context.Background(), p)
	if !errors.Is(err, ErrInconsistent) || !errors.Is(err, refused) {
		t.Errorf("apply = %v, want ErrInconsistent wrapping the closefd failure", err)
	}
	var se *StepError
	if errors.As(err, &se) {
		t.Errorf("apply = %v, a StepError, but no step failed", err)
	}
	if !committed || v.epoch != 1 {
		t.Errorf("plan not committed (committed %v, epoch %d)", committed, v.epoch)
	}
	host.requireClosed(t)
}

// TestStepErrorInconsistent: a StepError matches ErrInconsistent exactly
// when its rollback failed.
func TestStepErrorInconsistent(t *testing.T) {
	boom := errors.New("boom")
	if err := error(&StepError{Step: 1, Name: "x", Err: boom}); errors.Is(err, ErrInconsistent) || !errors.Is(err, boom) {
		t.Errorf("rolled back: Is(ErrInconsistent) = true or cause lost: %v", err)
	}
	undo := errors.New("undo")
	if err := error(&StepError{Step: 1, Name: "x", Err: boom, UndoErr: undo}); !errors.Is(err, ErrInconsistent) || !errors.Is(err, undo) {
		t.Errorf("rollback failed: Is(ErrInconsistent) = false or cause lost: %v", err)
	}
}
