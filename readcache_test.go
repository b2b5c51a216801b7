package nicplug_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
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

// take returns the commands recorded since the last take.
func (m *recMon) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.cmds
	m.cmds = nil
	return c
}

// TestIntegrationQuickReadBack: after a full read-back, and while plans
// succeed, an update is planned from `info network` alone, which still
// sees what another client changed on the NIC's hub; a failed plan makes
// the next one read everything back.
func TestIntegrationQuickReadBack(t *testing.T) {
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
	quick := []string{"human-monitor-command"}
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
	apply := func(p *nicplug.Plan) {
		t.Helper()
		if err := vm.Apply(ctx, p); err != nil {
			t.Fatal(err)
		}
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
	apply(plan("plug after start", user, quick, nicplug.KindPlug))
	plan("re-plug", user, quick, nicplug.KindNoop)
	apply(plan("unplug", none, quick, nicplug.KindUnplug))

	// Another client leaves a backend of net0's behind: info network
	// alone sees it, and the next plan cleans it up.
	oc, err := qmp.Dial(ctx, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	stray := backend.BackendID("net0", 9, domain.Backend{Type: domain.TypeUser}).String()
	if _, err := oc.Execute(ctx, "netdev_add", map[string]string{"type": "user", "id": stray}); err != nil {
		t.Fatal(err)
	}
	apply(plan("after another client's netdev_add", none, quick, nicplug.KindCleanup))
	plan("after the cleanup", none, quick, nicplug.KindNoop)

	// A failed plan: the next one reads everything back, then quick again.
	p := plan("plug", user, quick, nicplug.KindPlug)
	rec.failNext = "set_link"
	if err := vm.Apply(ctx, p); err == nil {
		t.Fatal("apply with a failing set_link: no error")
	}
	apply(plan("plug after a failed plug", user, full, nicplug.KindPlug))
	plan("re-plug", user, quick, nicplug.KindNoop)
}
