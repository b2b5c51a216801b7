package nicplug_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/nicplug/nicplug/qmp"
)

// recMon records the commands sent through it and fails the next one
// named in failNext.
type recMon struct {
	mon nicplug.Monitor

	mu       sync.Mutex
	cmds     []string
	failNext string
	started  *qmp.Call // the last command started
}

func (m *recMon) Execute(ctx context.Context, cmd string, args any, files ...*os.File) (json.RawMessage, error) {
	m.mu.Lock()
	m.cmds = append(m.cmds, cmd)
	fail := m.failNext == cmd
	if fail {
		m.failNext = ""
	}
	m.mu.Unlock()
	if fail {
		return nil, errors.New("test: injected failure")
	}
	return m.mon.Execute(ctx, cmd, args, files...)
}

// Start records a started command as "start:<name>" and passes it
// through.
func (m *recMon) Start(ctx context.Context, cmd string, args any) (*qmp.Call, error) {
	c, err := m.mon.(*qmp.Client).Start(ctx, cmd, args)
	m.mu.Lock()
	m.cmds = append(m.cmds, "start:"+cmd)
	m.started = c
	m.mu.Unlock()
	return c, err
}

// take returns the commands recorded since the last take.
func (m *recMon) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.cmds
	m.cmds = nil
	return c
}

// TestIntegrationKnownState: after a full read-back, and while plans
// succeed, an update is planned from what the VM knows: PlanUpdate starts
// the check (`info network`) without waiting for it, and Apply queues the
// plan's first QMP command behind it before collecting the reply; a noop
// plan is checked at once. What another client changed
// on the NIC's hub fails the check (a noop plan is then computed again
// from a full read-back; applying another plan undoes its first command,
// does nothing else and fails with ErrStalePlan), and the next plan reads
// everything back; UpdateDevice re-plans by itself.
func TestIntegrationKnownState(t *testing.T) {
	testenv.RequireQEMU(t)
	other := filepath.Join(t.TempDir(), "other.sock")
	xml := domainXML("quick", iface("52:54:00:00:00:41", "none", ""))
	q, dom := startDomain(t, xml, "-qmp", "unix:"+other+",server=on,wait=off")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	mon, err := qmp.Dial(ctx, q.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recMon{mon: mon}
	vm, err := nicplug.NewVMForTest(rec, mon, dom, &nicplug.Config{Host: emptyHost{}, CarrierHold: nicplug.NoCarrierHold})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	full := []string{"query-status", "qom-list", "human-monitor-command", "qom-get", "qom-get"}
	const check = "start:human-monitor-command"
	plan := func(what, ifaceXML string, wantRead []string, wantKind nicplug.PlanKind) *nicplug.Plan {
		t.Helper()
		rec.take()
		p, err := vm.PlanUpdate(ctx, []byte(ifaceXML))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := rec.take(); !slices.Equal(wantRead, got) {
			t.Errorf("%s: read back with %v, want %v", what, got, wantRead)
		}
		if p.Kind != wantKind {
			t.Errorf("%s: plan kind %s, want %s:\n%s", what, p.Kind, wantKind, p)
		}
		return p
	}
	// apply applies p and checks the first command(s) sent ("": not the
	// check).
	apply := func(what string, p *nicplug.Plan, wantFirst string) {
		t.Helper()
		if err := vm.Apply(ctx, p); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got := rec.take()
		switch {
		case wantFirst == "" && len(got) > 0 && (strings.HasPrefix(got[0], "start:") || got[0] == "human-monitor-command"):
			t.Errorf("%s: apply of a plan read back sent %v, want no check", what, got)
		case wantFirst != "" && (len(got) == 0 || got[0] != wantFirst):
			t.Errorf("%s: apply sent %v, want %s first", what, got, wantFirst)
		}
	}
	// backends lists net0's backends as a full read-back sees them.
	backends := func() []nicplug.BackendState {
		t.Helper()
		st, err := nicplug.ReadStateForTest(ctx, mon, emptyHost{}, "quick", dom)
		if err != nil {
			t.Fatal(err)
		}
		ns, _ := st.NIC("net0")
		return ns.Backends
	}
	rec.take()
	if err := vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(full, got[:min(len(got), len(full))]) {
		t.Errorf("start: read back with %v, want the full read-back %v first", got, full)
	}
	user := iface("52:54:00:00:00:41", "user", "")
	none := iface("52:54:00:00:00:41", "none", "")
	apply("plug", plan("plug after start", user, []string{check}, nicplug.KindPlug), "start:netdev_add")
	// A noop plan is checked at once: it always means QEMU is as wanted.
	apply("re-plug", plan("re-plug", user, []string{check}, nicplug.KindNoop), "")
	apply("unplug", plan("unplug", none, []string{check}, nicplug.KindUnplug), "start:set_link")
	if b := backends(); len(b) != 0 {
		t.Errorf("after the unplug, net0 has backends %v", b)
	}

	// Another client leaves a backend of net0's behind: the plan made
	// from what the VM knows fails its check, and the next plan reads
	// everything back and cleans it up.
	oc, err := qmp.Dial(ctx, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	stray := backend.BackendID("net0", 9, domain.Backend{Type: domain.TypeUser}).String()
	addStray := func() {
		t.Helper()
		if _, err := oc.Execute(ctx, "netdev_add", map[string]string{"type": "user", "id": stray}); err != nil {
			t.Fatal(err)
		}
	}
	addStray()
	apply("cleanup", plan("after another client's netdev_add", none, append([]string{check}, full...), nicplug.KindCleanup), "")
	apply("noop", plan("after the cleanup", none, []string{check}, nicplug.KindNoop), "")

	// The check fails after the first command, queued behind it, ran: it
	// is undone. QEMU keeps only the other client's backend. (The check
	// shows QEMU as PlanUpdate found it: the other client changes it
	// before.)
	addStray()
	p := plan("plug", user, []string{check}, nicplug.KindPlug)
	if err := vm.Apply(ctx, p); !errors.Is(err, nicplug.ErrStalePlan) || !strings.Contains(err.Error(), "QEMU changed") {
		t.Fatalf("apply of a plug QEMU changed under: %v, want a stale plan", err)
	}
	if b := backends(); len(b) != 1 || b[0].ID != stray {
		t.Errorf("after a failed check, net0 has backends %v, want only %s", b, stray)
	}
	// UpdateDevice re-plans by itself, from a full read-back.
	if err := vm.UpdateDevice(ctx, []byte(user)); err != nil {
		t.Fatalf("UpdateDevice after another client's change: %v", err)
	}
	if b := backends(); len(b) != 1 || b[0].ID == stray || b[0].Driver != "user" || !b[0].Attached() {
		t.Errorf("after UpdateDevice, net0 has backends %v, want one attached user backend", b)
	}
	oc.Execute(ctx, "netdev_add", map[string]string{"type": "user", "id": stray})
	if err := vm.UpdateDevice(ctx, []byte(none)); err != nil {
		t.Fatalf("UpdateDevice unplug after another client's change: %v", err)
	}
	if b := backends(); len(b) != 0 {
		t.Errorf("after UpdateDevice unplug, net0 has backends %v", b)
	}

	// A failed plan: the next one reads everything back, then plans from
	// what the VM knows again.
	p = plan("plug", user, []string{check}, nicplug.KindPlug)
	rec.failNext = "set_link"
	if err := vm.Apply(ctx, p); err == nil || errors.Is(err, nicplug.ErrStalePlan) {
		t.Fatalf("apply with a failing set_link: %v, want a step error", err)
	}
	apply("plug", plan("plug after a failed plug", user, full, nicplug.KindPlug), "")
	plan("re-plug", user, []string{check}, nicplug.KindNoop)

	// A plan never applied leaves its check with QEMU: Close collects the
	// reply, so that QEMU 10.0 cannot hand it to the next client.
	plan("unplug never applied", none, []string{check}, nicplug.KindUnplug)
	vm.Close()
	if rec.started == nil || !rec.started.Done() {
		t.Error("Close returned with the check of an unapplied plan still due")
	}
}

// TestIntegrationFaultsAtCheck breaks the check a plan computed from what
// the VM knows starts with, for every plan kind: the plan fails before
// any step, QEMU's net clients and the host's owned links are as before,
// and the next plan (read back in full) applies.
func TestIntegrationFaultsAtCheck(t *testing.T) {
	for _, sc := range scenarios() {
		if sc.update == "" {
			continue // a start plan always reads everything back: it has no check
		}
		t.Run(sc.name, func(t *testing.T) {
			sc.skipUnlessPossible(t)
			ctx := ctxT(t)
			r := sc.setup(t, ctx, sc.netns(t))
			before := r.snapshot(ctx)
			for _, mode := range []string{faultError, faultCancel} {
				if _, err := r.vm.State(ctx); err != nil { // the VM knows QEMU now
					t.Fatal(err)
				}
				p := sc.plan(t, ctx, r)
				if !nicplug.PlanCheckedForTest(p) {
					t.Fatalf("plan after a read-back is not checked:\n%s", p)
				}
				actx, cancel := context.WithCancel(ctx)
				r.in.armCheck(mode, cancel)
				err := r.vm.Apply(actx, p)
				r.in.disarm()
				cancel()
				var se *nicplug.StepError
				switch {
				case errors.As(err, &se):
					t.Errorf("%s at the check: Apply = %v, want an error before any step", mode, err)
				case mode == faultError && !errors.Is(err, errInjected), mode == faultCancel && !errors.Is(err, context.Canceled):
					t.Errorf("%s at the check: Apply = %v, want the injected error", mode, err)
				}
				r.requireSame(ctx, mode+" at the check", before)
			}
			if err := r.vm.Apply(ctx, sc.plan(t, ctx, r)); err != nil {
				t.Fatal(err)
			}
			verify(t, ctx, r)
		})
	}
}
