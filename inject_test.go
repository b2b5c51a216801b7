package nicplug_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/nicplug/nicplug/qmp"
)

var errInjected = errors.New("injected fault")

// Fault modes.
const (
	faultError  = "error"  // the call fails without reaching QEMU or the host
	faultCancel = "cancel" // the apply context is cancelled, then the call runs
	faultKill   = "kill"   // QEMU is killed, then the call runs
	faultStop   = "stop"   // QEMU is stopped (SIGSTOP), then the call runs
)

// injector counts the calls a plan's steps make while armed and injects a
// fault into the armed one.
type injector struct {
	mu     sync.Mutex
	armed  bool
	at     int // 1-based call to break
	calls  int
	mode   string
	checks bool // count the checks of plans (`info network`), not the steps
	cancel context.CancelFunc
	qemu   *testenv.QEMU
	sent   []string // the QMP commands sent, "set_link {…}"
}

// record notes a QMP command sent.
func (in *injector) record(cmd string, args any) {
	b, _ := json.Marshal(args)
	in.mu.Lock()
	defer in.mu.Unlock()
	in.sent = append(in.sent, cmd+" "+string(b))
}

// takeSent returns the QMP commands sent since the last call.
func (in *injector) takeSent() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.sent
	in.sent = nil
	return s
}

// arm breaks the at-th call of a plan's steps (QMP or host); the check a
// plan computed from what the VM knows starts with is not counted.
func (in *injector) arm(at int, mode string, cancel context.CancelFunc) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.armed, in.at, in.calls, in.mode, in.cancel, in.checks = true, at, 0, mode, cancel, false
}

// armCheck breaks the next check of a plan instead.
func (in *injector) armCheck(mode string, cancel context.CancelFunc) {
	in.arm(1, mode, cancel)
	in.mu.Lock()
	in.checks = true
	in.mu.Unlock()
}

func (in *injector) disarm() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.armed = false
}

// hit is called before each host call; it returns the error to inject.
func (in *injector) hit() error { return in.hitCall(false) }

// hitCall is called before each call, check telling whether it is a
// plan's check; it returns the error to inject.
func (in *injector) hitCall(check bool) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.armed || check != in.checks {
		return nil
	}
	in.calls++
	if in.calls != in.at {
		return nil
	}
	in.armed = false // undos pass through
	switch in.mode {
	case faultError:
		return errInjected
	case faultCancel:
		in.cancel()
	case faultKill:
		in.qemu.Kill()
	case faultStop:
		in.qemu.Cmd.Process.Signal(syscall.SIGSTOP)
	}
	return nil
}

type faultMon struct {
	in  *injector
	mon *qmp.Client
}

func (m *faultMon) Execute(ctx context.Context, cmd string, args any, files ...*os.File) (json.RawMessage, error) {
	if err := m.in.hitCall(cmd == "human-monitor-command"); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	m.in.record(cmd, args)
	return m.mon.Execute(ctx, cmd, args, files...)
}

// Done and Err pass the connection's end through, so that a carrier hold
// notices QEMU going away.
func (m *faultMon) Done() <-chan struct{} { return m.mon.Done() }
func (m *faultMon) Err() error            { return m.mon.Err() }

type faultHost struct {
	in *injector
	h  backend.Host
}

func (f *faultHost) CreateMacvtap(ctx context.Context, cfg backend.MacvtapConfig) error {
	if err := f.in.hit(); err != nil {
		return err
	}
	return f.h.CreateMacvtap(ctx, cfg)
}

func (f *faultHost) CreateBridgeTap(ctx context.Context, cfg backend.BridgeTapConfig) error {
	if err := f.in.hit(); err != nil {
		return err
	}
	return f.h.CreateBridgeTap(ctx, cfg)
}

func (f *faultHost) OpenMacvtap(ctx context.Context, name string) (*os.File, error) {
	if err := f.in.hit(); err != nil {
		return nil, err
	}
	return f.h.OpenMacvtap(ctx, name)
}

func (f *faultHost) OpenTap(ctx context.Context, name string) (*os.File, error) {
	if err := f.in.hit(); err != nil {
		return nil, err
	}
	return f.h.OpenTap(ctx, name)
}

func (f *faultHost) DeleteLink(ctx context.Context, name string) error {
	if err := f.in.hit(); err != nil {
		return err
	}
	return f.h.DeleteLink(ctx, name)
}

// ListOwned is read-back, never faulted.
func (f *faultHost) ListOwned(ctx context.Context, vm string) ([]backend.OwnedLink, error) {
	return f.h.ListOwned(ctx, vm)
}
