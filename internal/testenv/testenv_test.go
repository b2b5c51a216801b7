package testenv_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/internal/testenv"
)

// fakeTB records what Skip does; like a *testing.T, Skipf and Fatalf
// stop the caller (by a panic that call recovers).
type fakeTB struct{ calls []string }

type stopped struct{}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, a ...any) {
	f.calls = append(f.calls, "skip: "+fmt.Sprintf(format, a...))
	panic(stopped{})
}
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.calls = append(f.calls, "fatal: "+fmt.Sprintf(format, a...))
	panic(stopped{})
}

// call runs fn, recovering the fakeTB's stop.
func call(fn func()) {
	defer func() {
		if r := recover(); r != nil && r != (stopped{}) {
			panic(r)
		}
	}()
	fn()
}

func TestSkip(t *testing.T) {
	tests := []struct {
		ci   string
		want []string
	}{
		{"", []string{"skip: skipping, no widget"}},
		{"1", []string{"fatal: no widget (and NICPLUG_CI is set: CI never skips)"}},
	}
	for _, tt := range tests {
		t.Run("NICPLUG_CI="+tt.ci, func(t *testing.T) {
			t.Setenv(testenv.CIVar, tt.ci)
			if want, got := tt.ci != "", testenv.Strict(); got != want {
				t.Errorf("Strict() = %t, want %t", got, want)
			}
			var f fakeTB
			call(func() { testenv.Skip(&f, "no widget") })
			if diff := cmp.Diff(tt.want, f.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIntegrationStartQEMU checks the QEMU a test gets, and that the
// test's cleanup kills it even when it is stopped, and removes its socket.
func TestIntegrationStartQEMU(t *testing.T) {
	var q *testenv.QEMU
	t.Run("inner", func(t *testing.T) {
		q = testenv.StartQEMU(t, "-device", "qemu-xhci,id=xhci")
		if _, err := os.Stat(q.Socket); err != nil {
			t.Fatalf("QMP socket: %v", err)
		}
		if q.Cmd == nil || q.Cmd.Process == nil || q.Stderr == nil {
			t.Fatalf("QEMU lacks Cmd or Stderr: %+v", q)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		if err := q.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait on a running QEMU = %v, want the deadline", err)
		}
		if err := q.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	})
	select {
	case <-q.Done():
	default:
		t.Fatal("QEMU still runs after its test's cleanup")
	}
	if err := q.Wait(t.Context()); err == nil {
		t.Error("Wait after cleanup = nil, want the kill status")
	}
	if _, err := os.Stat(q.Socket); !os.IsNotExist(err) {
		t.Errorf("QMP socket left after cleanup: %v", err)
	}
	q.Kill() // again: a no-op
}

// TestIntegrationStartQEMUBadArgs checks that a QEMU that refuses its
// arguments fails the test with QEMU's message.
func TestIntegrationStartQEMUBadArgs(t *testing.T) {
	testenv.RequireQEMU(t)
	rec := &recordTB{TB: t}
	call(func() { testenv.StartQEMU(rec, "-device", "nicplug-no-such-device") })
	if !strings.HasPrefix(rec.fatal, "testenv: qemuproc:") || !strings.Contains(rec.fatal, "nicplug-no-such-device") {
		t.Errorf("StartQEMU failed with %q, want QEMU's complaint about nicplug-no-such-device", rec.fatal)
	}
}

// recordTB is the test's TB, except that Fatalf records and stops.
type recordTB struct {
	testing.TB
	fatal string
}

func (r *recordTB) Fatalf(format string, a ...any) {
	r.fatal = fmt.Sprintf(format, a...)
	panic(stopped{})
}

func TestScale(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want time.Duration
	}{
		{"", time.Minute}, {"1", time.Minute}, {"8", 8 * time.Minute},
		{"0", time.Minute}, {"-2", time.Minute}, {"x", time.Minute},
	} {
		t.Setenv(testenv.TimeScaleVar, tt.v)
		if got := testenv.Scale(time.Minute); got != tt.want {
			t.Errorf("%s=%q: Scale(1m) = %v, want %v", testenv.TimeScaleVar, tt.v, got, tt.want)
		}
	}
}

func TestWantVhostNet(t *testing.T) {
	t.Setenv(testenv.VhostNetVar, "")
	if testenv.WantVhostNet() {
		t.Errorf("WantVhostNet() with %s empty = true", testenv.VhostNetVar)
	}
	t.Setenv(testenv.VhostNetVar, "1")
	if !testenv.WantVhostNet() {
		t.Errorf("WantVhostNet() with %s=1 = false", testenv.VhostNetVar)
	}
}
