package nicplug_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/backend"
	"github.com/nicplug/nicplug/domain"
	"github.com/nicplug/nicplug/internal/testenv"
	"github.com/nicplug/nicplug/qmp"
)

const (
	macA = "52:54:00:00:00:01"
	macB = "52:54:00:00:00:02"
)

var (
	xNone       = iface(macA, "none", "")
	xUser       = iface(macA, "user", "")
	xUserDown   = iface(macA, "user", "<link state='down'/>")
	xUDP        = iface(macA, "udp", "<source address='127.0.0.1' port='47001'><local address='127.0.0.1' port='47002'/></source>")
	xDirect     = iface(macA, "direct", "<source dev='veth0' mode='bridge'/>")
	xDirectVEPA = iface(macA, "direct", "<source dev='veth0' mode='vepa'/>")
	xBridge     = iface(macA, "bridge", "<source bridge='br0'/>")
	xEthernet   = iface(macA, "ethernet", "<target dev='tap7' managed='no'/>")
	xNoneB      = iface(macB, "none", "")
	xEthB       = iface(macB, "ethernet", "<target dev='tap7' managed='no'/>")
)

// TestIntegrationPlanKinds applies every plan kind to a real QEMU, checks
// the result through info network and qom-get, and that planning the same
// update again gives an empty plan. Apply times are logged.
func TestIntegrationPlanKinds(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			sc.skipUnlessPossible(t)
			ctx := ctxT(t)
			r := sc.setup(t, ctx, sc.netns(t))
			p := sc.plan(t, ctx, r)
			start := time.Now()
			if err := r.vm.Apply(ctx, p); err != nil {
				r.q.Kill() // before reading its stderr
				t.Fatalf("apply:\n%s\n%v\nqemu: %v %s", p, err, r.q.Cmd.ProcessState, r.q.Stderr)
			}
			t.Logf("apply %s (%d steps): %v", p.Kind, len(p.Steps), time.Since(start))
			verify(t, ctx, r)
			if sc.update == "" {
				st, err := r.vm.State(ctx)
				if err != nil || !st.Running {
					t.Errorf("after start: running=%v, %v", st != nil && st.Running, err)
				}
				p, err = r.vm.PlanStart(ctx)
				if err != nil || len(p.Steps) != 0 {
					t.Errorf("second start plan: %v, %v", p, err)
				}
				return
			}
			// Idempotence: the same update again is a noop.
			again, err := r.vm.PlanUpdate(ctx, []byte(sc.update))
			if err != nil {
				t.Fatal(err)
			}
			if again.Kind != nicplug.KindNoop || len(again.Steps) != 0 {
				t.Errorf("same update again gives:\n%s", again)
			}
			if err := r.vm.Apply(ctx, p); !errors.Is(err, nicplug.ErrStalePlan) {
				t.Errorf("re-applying an applied plan = %v, want ErrStalePlan", err)
			}
		})
	}
}

// TestIntegrationFaults injects a fault at every step of every plan kind and
// checks that QEMU's net clients and the host's owned links are exactly as
// before, and that the error names the step and reaches the cause.
func TestIntegrationFaults(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			sc.skipUnlessPossible(t)
			// Not parallel: it counts the process's fds.
			ctx := ctxT(t)
			r := sc.setup(t, ctx, sc.netns(t))
			before := r.snapshot(ctx)
			first := sc.plan(t, ctx, r)
			fds := countFDs(t)
			for k := 1; k <= len(first.Steps); k++ {
				for _, mode := range []string{faultError, faultCancel} {
					p := sc.plan(t, ctx, r)
					if p.String() != first.String() {
						t.Fatalf("after rollback the plan changed:\n%s\nwas\n%s", p, first)
					}
					actx, cancel := context.WithCancel(ctx)
					r.in.arm(k, mode, cancel)
					err := r.vm.Apply(actx, p)
					r.in.disarm()
					cancel()
					what := fmt.Sprintf("%s at step %d (%s)", mode, k, p.Steps[k-1].Do)
					var se *nicplug.StepError
					if !errors.As(err, &se) {
						t.Fatalf("%s: Apply = %v, want a *StepError", what, err)
					}
					if se.UndoErr != nil {
						t.Errorf("%s: rollback failed: %v", what, se.UndoErr)
					}
					switch mode {
					case faultError:
						if se.Step != k || !errors.Is(err, errInjected) {
							t.Errorf("%s: error %v names step %d, want step %d and the injected error", what, err, se.Step, k)
						}
					case faultCancel:
						// The call may complete despite the cancellation;
						// then the next step notices it.
						if (se.Step != k && se.Step != k+1) || !errors.Is(err, context.Canceled) {
							t.Errorf("%s: error %v names step %d, want step %d or %d and context.Canceled", what, err, se.Step, k, k+1)
						}
					}
					r.requireSame(ctx, what, before)
					r.requireNoFDs(ctx, what, p, fds)
				}
			}
			// Apply still works after all that.
			if err := r.vm.Apply(ctx, sc.plan(t, ctx, r)); err != nil {
				t.Fatal(err)
			}
			verify(t, ctx, r)
		})
	}
}

// TestIntegrationFaultsQEMUKilled kills QEMU just before each QMP step of
// every plan kind: the error reaches qmp.ErrClosed and the host is back to
// where it started.
func TestIntegrationFaultsQEMUKilled(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			sc.skipUnlessPossible(t)
			t.Parallel()
			ctx := ctxT(t)
			ns := sc.netns(t)
			first := sc.setup(t, ctx, ns)
			steps := sc.plan(t, ctx, first).Steps
			first.close(ctx)
			for k, s := range steps {
				if s.Do.Type != nicplug.ActionQMP {
					continue
				}
				r := sc.setup(t, ctx, ns)
				before := r.snapshot(ctx)
				p := sc.plan(t, ctx, r)
				r.in.arm(k+1, faultKill, nil)
				err := r.vm.Apply(ctx, p)
				var se *nicplug.StepError
				if !errors.As(err, &se) || se.Step != k+1 || !errors.Is(err, qmp.ErrClosed) {
					t.Errorf("kill at step %d: Apply = %v, want StepError at step %d reaching qmp.ErrClosed", k+1, err, k+1)
				}
				r.requireSame(ctx, fmt.Sprintf("kill at step %d", k+1), before)
				r.close(ctx)
			}
		})
	}
}

// TestIntegrationCollisions pre-creates the ids a plan is about to use.
func TestIntegrationCollisions(t *testing.T) {
	testenv.RequireQEMU(t)
	ctx := ctxT(t)
	r := newRig(t, nil, nil, "collide", xNone)
	if err := r.vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := r.vm.PlanUpdate(ctx, []byte(xUser))
	if err != nil {
		t.Fatal(err)
	}
	beID := backend.BackendID("net0", 1, domain.Backend{Type: domain.TypeUser})
	tests := []struct {
		name     string
		create   []any // netdev_add arguments of the squatter
		failStep int
	}{
		{"backend id", []any{"type", "user", "id", beID.String()}, 1},
		{"hub port id", []any{"type", "hubport", "id", beID.Port().String(), "hubid", 99}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := r.mon.Execute(ctx, "netdev_add", backend.Object(tt.create...)); err != nil {
				t.Fatal(err)
			}
			before := r.snapshot(ctx)
			// p was computed from what the VM knew after Start: its check
			// sees the squatter, and nothing is done.
			if err := r.vm.Apply(ctx, p); !errors.Is(err, nicplug.ErrStalePlan) {
				t.Errorf("Apply of a checked plan = %v, want ErrStalePlan", err)
			}
			r.requireSame(ctx, tt.name+", checked plan", before)
			// A plan computed from a full read-back (here by a fresh VM on
			// the same QEMU, computed before the squatter came) has no
			// check: QEMU refuses the colliding id and the plan rolls back.
			fresh := r.freshVM(ctx)
			if _, err := r.mon.Execute(ctx, "netdev_del", backend.Object("id", tt.create[3])); err != nil {
				t.Fatal(err)
			}
			fp, err := fresh.PlanUpdate(ctx, []byte(xUser))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.mon.Execute(ctx, "netdev_add", backend.Object(tt.create...)); err != nil {
				t.Fatal(err)
			}
			err = fresh.Apply(ctx, fp)
			var se *nicplug.StepError
			var ce *qmp.CommandError
			if !errors.As(err, &se) || se.Step != tt.failStep || !errors.As(err, &ce) || se.UndoErr != nil {
				t.Errorf("Apply = %v, want StepError at step %d reaching a *qmp.CommandError, clean rollback", err, tt.failStep)
			}
			r.requireSame(ctx, tt.name, before)
			if _, err := r.mon.Execute(ctx, "netdev_del", backend.Object("id", tt.create[3])); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The plan was not applied: it is still current and now succeeds.
	if err := r.vm.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	verify(t, ctx, r)
}

// TestIntegrationFDNameCollision: a name already held by the monitor is
// replaced by getfd (QEMU closes the old fd); the plan succeeds and no name
// is left behind.
func TestIntegrationFDNameCollision(t *testing.T) {
	ns := newTestNetns(t)
	ctx := ctxT(t)
	r := newRig(t, ns, nil, "fdcollide", xNone)
	if err := r.vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := r.vm.PlanUpdate(ctx, []byte(xEthernet))
	if err != nil {
		t.Fatal(err)
	}
	fd := backend.BackendID("net0", 1, domain.Backend{Type: domain.TypeEthernet, Dev: "tap7"}).FD(0).String()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	if err := r.mon.GetFD(ctx, fd, devnull); err != nil {
		t.Fatal(err)
	}
	if err := r.vm.Apply(ctx, p); err != nil {
		t.Fatalf("apply with a colliding fd name: %v", err)
	}
	verify(t, ctx, r)
	if err := r.mon.CloseFD(ctx, fd); err == nil {
		t.Errorf("fd name %s still held by QEMU after the plan", fd)
	}
}

// TestIntegrationCarrierHoldCancelled cancels the context during the
// carrier hold of a switch: the switch is rolled back.
func TestIntegrationCarrierHoldCancelled(t *testing.T) {
	testenv.RequireQEMU(t)
	ctx := ctxT(t)
	r := newRig(t, nil, &nicplug.Config{CarrierHold: time.Minute}, "hold", xUser)
	if err := r.vm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	before := r.snapshot(ctx)
	p, err := r.vm.PlanUpdate(ctx, []byte(xUDP))
	if err != nil {
		t.Fatal(err)
	}
	hold := 0
	for _, s := range p.Steps {
		if s.Do.Type == nicplug.ActionWait {
			hold = s.Num
		}
	}
	if hold == 0 {
		t.Fatalf("switch with carrier hold has no wait step:\n%s", p)
	}
	actx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = r.vm.Apply(actx, p)
	var se *nicplug.StepError
	if !errors.As(err, &se) || se.Step != hold || !errors.Is(err, context.DeadlineExceeded) || se.UndoErr != nil {
		t.Fatalf("Apply = %v, want StepError at hold step %d with DeadlineExceeded", err, hold)
	}
	r.requireSame(ctx, "cancelled hold", before)
}

// TestIntegrationConverge simulates a crash after every prefix of a switch
// plan: a new VM (as a restarted process would make, from the old
// configuration) plans the same update, which cleans up and converges; the
// plan after that is a noop.
func TestIntegrationConverge(t *testing.T) {
	for _, sc := range scenarios() {
		if sc.kind != nicplug.KindSwitch {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			sc.skipUnlessPossible(t)
			t.Parallel()
			ctx := ctxT(t)
			ns := sc.netns(t)
			first := sc.setup(t, ctx, ns)
			n := len(sc.plan(t, ctx, first).Steps)
			first.close(ctx)
			for k := 1; k < n; k++ {
				r := sc.setup(t, ctx, ns)
				p := sc.plan(t, ctx, r)
				p.Steps = p.Steps[:k] // the process dies after step k
				if err := r.vm.Apply(ctx, p); err != nil {
					t.Fatal(err)
				}
				// The restarted process: a new VM from the configuration
				// in effect before the update, on the same monitor.
				dom, err := domain.ParseDomain(domainXML(r.name, sc.boot...), nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(sc.prep) > 0 {
					t.Fatal("converge scenarios must not have setup updates")
				}
				cfg := sc.cfg
				if r.host != nil {
					cfg.Host = r.host
				} else {
					cfg.Host = emptyHost{}
				}
				r.vm, err = nicplug.NewVMForTest(r.mon, r.mon, dom, &cfg)
				if err != nil {
					t.Fatal(err)
				}
				fix, err := r.vm.PlanUpdate(ctx, []byte(sc.update))
				if err != nil {
					t.Fatal(err)
				}
				if err := r.vm.Apply(ctx, fix); err != nil {
					t.Fatalf("crash after step %d: converging plan failed:\n%s\n%v", k, fix, err)
				}
				verify(t, ctx, r)
				again, err := r.vm.PlanUpdate(ctx, []byte(sc.update))
				if err != nil || again.Kind != nicplug.KindNoop {
					t.Errorf("crash after step %d: after converging:\n%v %v", k, again, err)
				}
				r.close(ctx)
			}
		})
	}
}
