package child_test

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nicplug/nicplug/internal/child"
)

func TestStartErrors(t *testing.T) {
	started := helperCmd("sleep")
	p, err := child.Start(started)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	tests := []struct {
		name string
		cmd  *exec.Cmd
		want string // in the error
		is   error
	}{
		{"nil", nil, "nil *exec.Cmd", nil},
		{"not found", exec.Command("nicplug-no-such-binary"), "nicplug-no-such-binary", exec.ErrNotFound},
		{"started twice", started, "already started", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := child.Start(tt.cmd)
			if err == nil {
				p.Kill()
				t.Fatal("Start succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "child: start") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start: %v, want child: start … %s", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Start: %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

func TestWaitExitStatus(t *testing.T) {
	for _, code := range []int{0, 1, 3} {
		p, err := child.Start(helperCmd("exit=" + strconv.Itoa(code)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		err = p.Wait(ctx)
		cancel()
		got := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("exit %d: Wait = %v, want an *exec.ExitError", code, err)
		}
		if want := code; got != want {
			t.Errorf("exit status %d, want %d", got, want)
		}
		if want, got := err, p.Err(); want != got {
			t.Errorf("Err = %v, Wait returned %v", got, want)
		}
	}
}

// TestKill kills a running child from several goroutines at once, then
// again: each Kill returns once the child has been reaped.
func TestKill(t *testing.T) {
	p, err := child.Start(helperCmd("sleep"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := p.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on a running child = %v, want the context's deadline", err)
	}
	if err := p.Err(); err != nil {
		t.Errorf("Err before exit = %v, want nil", err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(p.Kill)
	}
	wg.Wait()
	select {
	case <-p.Done():
	default:
		t.Fatal("Done not closed after Kill")
	}
	var ee *exec.ExitError
	if !errors.As(p.Err(), &ee) || !strings.Contains(ee.Error(), "killed") {
		t.Errorf("Err = %v, want killed", p.Err())
	}
	p.Kill() // once more: must not block or panic
}

// TestKillAfterExit kills a child that has already exited on its own.
func TestKillAfterExit(t *testing.T) {
	p, err := child.Start(helperCmd("exit=0"))
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	p.Kill()
	if err := p.Err(); err != nil {
		t.Errorf("Err = %v, want nil (exited before Kill)", err)
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"empty", 8, nil, ""},
		{"fits", 8, []string{"ab", "cd"}, "abcd"},
		{"exactly", 4, []string{"ab", "cd"}, "abcd"},
		{"drops oldest", 4, []string{"abc", "def"}, "cdef"},
		{"long write", 3, []string{"a", "bcdefg"}, "efg"},
		{"many writes", 5, []string{"1", "2", "3", "4", "5", "6", "7"}, "34567"},
		{"zero max keeps one", 0, []string{"ab"}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tail := child.NewTail(tt.max)
			for _, w := range tt.writes {
				n, err := tail.Write([]byte(w))
				if err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if diff := cmp.Diff(tt.want, tail.String()); diff != "" {
				t.Errorf("String (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTailConcurrent writes and reads at once (for the race detector).
func TestTailConcurrent(t *testing.T) {
	tail := child.NewTail(16)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				tail.Write([]byte("0123456789"))
				_ = tail.String()
			}
		})
	}
	wg.Wait()
	if want, got := 16, len(tail.String()); got != want {
		t.Errorf("kept %d bytes, want %d", got, want)
	}
}
