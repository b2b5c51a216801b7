package nicplug_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nicplug/nicplug"
	"github.com/nicplug/nicplug/internal/testenv"
)

// TestIntegrationFaultsQEMUStopped stops QEMU (SIGSTOP) just before each
// step of every plan kind, the apply bounded by a deadline: the host
// devices the plan created are removed although QEMU's undos hang (they
// have their own budget), and once QEMU runs again (SIGCONT) the same
// update converges and is then a no-op.
func TestIntegrationFaultsQEMUStopped(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			sc.skipUnlessPossible(t)
			t.Parallel()
			ctx := ctxT(t)
			var ns *testNetns
			if sc.root {
				ns = newTestNetnsNamed(t, "npi13b-")
			} else {
				testenv.RequireQEMU(t)
			}
			sc.cfg.UndoTimeout = 300 * time.Millisecond
			sc.cfg.HostUndoTimeout = 30 * time.Second
			first := sc.setup(t, ctx, ns)
			steps := sc.plan(t, ctx, first).Steps
			first.close(ctx)
			for k := range steps {
				what := fmt.Sprintf("stop at step %d (%s)", k+1, steps[k].Do)
				if steps[k].Do.Op == nicplug.OpOpenTap || (k > 0 && steps[k-1].Do.Op == nicplug.OpOpenTap) {
					// Known limitation (README, "Not supported yet"): the
					// getfd of an existing tap's fd reaches QEMU once it
					// runs again, and QEMU keeps the fd under a name no
					// plan closes, so the tap cannot be opened again.
					continue
				}
				r := sc.setup(t, ctx, ns)
				before := r.snapshot(ctx)
				p := sc.plan(t, ctx, r)
				r.in.arm(k+1, faultStop, nil)
				actx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := r.vm.Apply(actx, p)
				cancel()
				r.in.disarm()
				var se *nicplug.StepError
				switch {
				case err == nil:
					// Stopped before a last host step: applied.
				case !errors.As(err, &se) || !errors.Is(err, context.DeadlineExceeded):
					t.Errorf("%s: Apply = %v, want a StepError reaching context.DeadlineExceeded", what, err)
				default:
					if got := hostLinks(t, ctx, r); fmt.Sprint(got) != fmt.Sprint(before.Links) {
						t.Errorf("%s: host links %v after the rollback, were %v", what, got, before.Links)
					}
				}
				if err := r.q.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
					t.Fatal(err)
				}
				if err := r.vm.Apply(ctx, planAgain(t, ctx, r, sc)); err != nil {
					t.Fatalf("%s: converging: %v", what, err)
				}
				verify(t, ctx, r)
				if p := planAgain(t, ctx, r, sc); len(p.Steps) != 0 {
					t.Errorf("%s: after converging, the same update is not a no-op:\n%s", what, p)
				}
				r.close(ctx)
			}
		})
	}
}

// planAgain plans sc's update (or start) again, whatever the plan is.
func planAgain(t *testing.T, ctx context.Context, r *rig, sc scenario) *nicplug.Plan {
	t.Helper()
	var p *nicplug.Plan
	var err error
	if sc.update == "" {
		p, err = r.vm.PlanStart(ctx)
	} else {
		p, err = r.vm.PlanUpdate(ctx, []byte(sc.update))
	}
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

// hostLinks is the Links part of r.snapshot, which does not ask QEMU.
func hostLinks(t *testing.T, ctx context.Context, r *rig) []string {
	t.Helper()
	saved := r.q
	r.q = nil
	defer func() { r.q = saved }()
	return r.snapshot(ctx).Links
}
