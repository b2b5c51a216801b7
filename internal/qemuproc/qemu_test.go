package qemuproc_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nicplug/nicplug/internal/qemuproc"
	"github.com/nicplug/nicplug/internal/testenv"
)

// emptyTemp points the temporary directory at a fresh one and returns a
// check that nothing was left in it.
func emptyTemp(t *testing.T) func() {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return func() {
		t.Helper()
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			t.Errorf("left behind in the temporary directory: %s", e.Name())
		}
	}
}

func TestStartErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  *qemuproc.Config
		is   error
		want string
	}{
		{"no binary", &qemuproc.Config{Binary: "nicplug-no-such-qemu"}, exec.ErrNotFound, "nicplug-no-such-qemu"},
		{"negative sockets", &qemuproc.Config{Sockets: -1}, nil, "-1 QMP sockets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := emptyTemp(t)
			q, err := qemuproc.Start(t.Context(), tt.cfg)
			if err == nil {
				q.Kill()
				t.Fatal("Start succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "qemuproc: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start = %v, want qemuproc: … %s", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Start = %v, want errors.Is %v", err, tt.is)
			}
			check()
		})
	}
}

// TestIntegrationStart starts QEMU with several configurations, checks
// that every QMP socket answers and that Kill removes everything.
func TestIntegrationStart(t *testing.T) {
	testenv.RequireQEMU(t)
	own := filepath.Join(t.TempDir(), "own.sock")
	tests := []struct {
		name    string
		cfg     *qemuproc.Config
		sockets []string // want, "" for one in the temporary directory
	}{
		{"defaults", nil, []string{""}},
		{"three sockets", &qemuproc.Config{Sockets: 3}, []string{"", "", ""}},
		{"own socket", &qemuproc.Config{Socket: own, Sockets: 2}, []string{own, ""}},
		{"extra args", &qemuproc.Config{Args: []string{"-device", "qemu-xhci,id=xhci"}}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := emptyTemp(t)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			q, err := qemuproc.Start(ctx, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if want, got := len(tt.sockets), len(q.Sockets); got != want {
				t.Fatalf("%d sockets %q, want %d", got, q.Sockets, want)
			}
			for i, s := range q.Sockets {
				if tt.sockets[i] != "" && s != tt.sockets[i] {
					t.Errorf("socket %d = %s, want %s", i, s, tt.sockets[i])
				}
				// Ready means ready: QMP answers at once, every socket.
				if err := qemuproc.WaitQMP(ctx, s, q.Done()); err != nil {
					t.Errorf("socket %s: %v", s, err)
				}
			}
			if want, got := q.Sockets[0], q.Socket(); got != want {
				t.Errorf("Socket() = %s, want %s", got, want)
			}
			if err := syscall.Kill(q.Pid(), 0); err != nil {
				t.Errorf("QEMU process %d: %v", q.Pid(), err)
			}
			q.Kill()
			q.Kill()
			select {
			case <-q.Done():
			default:
				t.Fatal("Done open after Kill")
			}
			if err := q.Wait(ctx); err == nil || q.Err() != err {
				t.Errorf("Wait = %v, Err = %v; want the same kill status", err, q.Err())
			}
			for _, s := range q.Sockets {
				if _, err := os.Lstat(s); !os.IsNotExist(err) {
					t.Errorf("socket %s left after Kill: %v", s, err)
				}
			}
			check()
		})
	}
}

// TestIntegrationStartFails checks that a QEMU that cannot start, or a
// context that ends first, leaves no process and no file behind, and that
// the error says why.
func TestIntegrationStartFails(t *testing.T) {
	testenv.RequireQEMU(t)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		cfg  *qemuproc.Config
		is   error
		want string
	}{
		{"bad device", t.Context(), &qemuproc.Config{Args: []string{"-device", "nicplug-no-such-device"}}, qemuproc.ErrExited, "nicplug-no-such-device"},
		{"context ended", canceled, nil, context.Canceled, "wait for QMP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := emptyTemp(t)
			q, err := qemuproc.Start(tt.ctx, tt.cfg)
			if err == nil {
				q.Kill()
				t.Fatal("Start succeeded, want an error")
			}
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start = %v, want errors.Is %v and %q in it", err, tt.is, tt.want)
			}
			check()
		})
	}
}

// TestIntegrationWaitRunning checks that Wait on a running QEMU returns
// the context's error and that Stderr and Config.Stderr see QEMU's output.
func TestIntegrationWaitRunning(t *testing.T) {
	testenv.RequireQEMU(t)
	var extra strings.Builder
	q, err := qemuproc.Start(t.Context(), &qemuproc.Config{
		// A bad device property: QEMU complains on stderr and exits.
		Args:   []string{"-device", "qemu-xhci,id=xhci,nicplug-bad=1"},
		Stderr: &extra,
	})
	if err == nil {
		q.Kill()
		t.Fatal("Start with a bad device property succeeded")
	}
	if !strings.Contains(extra.String(), "nicplug-bad") {
		t.Errorf("Config.Stderr got %q, want QEMU's complaint", extra.String())
	}
	q, err = qemuproc.Start(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Kill()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := q.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait on a running QEMU = %v, want the deadline", err)
	}
	if err := q.Err(); err != nil {
		t.Errorf("Err on a running QEMU = %v, want nil", err)
	}
}
